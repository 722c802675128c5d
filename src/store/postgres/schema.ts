// Creates or checks the PostgreSQL schema (issue 18): one file (./schema.sql) that is the SQLite base schema plus
// every named migration, so both engines carry one schema version. Safe when several nodes start at once: the
// work runs in one transaction under an advisory lock, so exactly one of them creates the tables.
import type { SQL } from "bun";
import schemaSql from "./schema.sql" with { type: "text" };
import { SCHEMA_VERSION } from "../db";
import { MIGRATIONS } from "../migrations";

/** pg_advisory_xact_lock key for schema work ("oc-schema" in ASCII, fits a bigint). */
const SCHEMA_LOCK = 0x6f632d736368656dn;

/**
 * Named migrations an existing Postgres database may still lack, with their translation (a database made from
 * ./schema.sql has them all). One that is missing and not here is refused, never half-applied.
 */
const UPGRADES: Readonly<Record<string, string>> = {
  "18-no-scheduler-lease": "DROP TABLE IF EXISTS scheduler_lease",
};

export type PostgresSchemaState = { created: boolean; version: number; migrations: string[] };

/**
 * An empty database gets ./schema.sql; an existing one must be at this build's version and contain every named
 * migration this build knows: one it lacks is applied from UPGRADES in the same locked transaction, and one with no
 * translation there is refused with the list, never half-upgraded.
 */
export async function migratePostgres(sql: SQL): Promise<PostgresSchemaState> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`;
    const [{ present }] = await tx`SELECT to_regclass('schema_version') IS NOT NULL AS present`;
    if (!present) await tx.unsafe(schemaSql).simple();
    const [{ v }] = await tx`SELECT MAX(version)::int AS v FROM schema_version`;
    if (v === null || v > SCHEMA_VERSION)
      throw new Error(`database schema v${v} is not this gateway's (v${SCHEMA_VERSION}): refusing to serve on it`);
    const applied: string[] = (await tx`SELECT id FROM schema_migrations ORDER BY id`).map((r: { id: string }) => r.id);
    const missing = MIGRATIONS.map((m) => m.id).filter((id) => !applied.includes(id));
    if (missing.every((id) => id in UPGRADES))
      for (const id of missing.splice(0)) {
        await tx.unsafe(UPGRADES[id]!);
        await tx`INSERT INTO schema_migrations (id, applied_at) VALUES (${id}, extract(epoch FROM now())::bigint)`;
        applied.push(id);
      }
    if (missing.length)
      throw new Error(`database lacks migrations ${missing.join(", ")}; they have no PostgreSQL translation yet`);
    return { created: !present, version: v, migrations: applied };
  });
}
