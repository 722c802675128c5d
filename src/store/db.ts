import { Database } from "bun:sqlite";
import schemaSql from "../../schema.sql" with { type: "text" };
import { MIGRATIONS, type Migration } from "./migrations";
import { enableGroupCommit } from "./durability";

/** The base schema's version (schema.sql); later changes are named migrations (./migrations.ts). */
export const SCHEMA_VERSION = 1;

export type Synchronous = "FULL" | "NORMAL";

/**
 * WAL so readers never block the writer; busy_timeout so concurrent writers (a second process, the CLI) wait
 * instead of failing; foreign keys on. synchronous=FULL by default: in WAL mode NORMAL can lose the last
 * commits on power loss, and a lost commit here is a debit the user was already told about.
 */
export function openDatabase(
  path: string,
  synchronous: Synchronous = "FULL",
  opts: { groupCommit?: boolean } = {},
): Database {
  const db = new Database(path, { create: true, strict: true });
  // The busy timeout first: switching to WAL needs a lock too, and without a timeout it fails at once while
  // another process (a CLI command closing the last connection, so checkpointing) holds one.
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec("PRAGMA temp_store = MEMORY");
  migrate(db);
  // FULL while migrating; then, for the serving gateway, FULL by group commit (./durability.ts).
  if (opts.groupCommit && synchronous === "FULL") enableGroupCommit(db, path);
  return db;
}

export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): void {
  db.transaction(() => {
    db.exec(schemaSql);
    const row = db.query<{ v: number | null }, []>("SELECT MAX(version) AS v FROM schema_version").get();
    const current = row?.v ?? 0;
    if (current > SCHEMA_VERSION)
      throw new Error(`database schema v${current} is newer than this gateway (v${SCHEMA_VERSION})`);
    if (current < SCHEMA_VERSION)
      db.query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)").run(
        SCHEMA_VERSION,
        Math.floor(Date.now() / 1000),
      );
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = new Set(
      db
        .query<{ id: string }, []>("SELECT id FROM schema_migrations")
        .all()
        .map((r) => r.id),
    );
    for (const m of migrations) {
      if (applied.has(m.id)) continue;
      db.exec(m.sql);
      db.query("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)").run(m.id, Math.floor(Date.now() / 1000));
    }
  }).immediate();
}

/** One SQLite `BEGIN IMMEDIATE … COMMIT` (§9.1): every state change goes through here. */
export function inTransaction<T>(db: Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}
