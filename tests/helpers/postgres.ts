// The PostgreSQL server the scale-out tests run against (issue 18): `.ci/run` starts a throwaway cluster
// (.ci/pg-up.sh) and exports OC_TEST_DATABASE_URL. Without it (a developer machine with no Postgres) those tests
// skip their Postgres part and say so; their SQLite part still runs. Every test file gets its own database, so
// files never see each other's rows and a failed run leaves nothing behind that the next one trips over.
import { SQL } from "bun";
import { randomBytes } from "node:crypto";

export const PG_URL: string | null = process.env.OC_TEST_DATABASE_URL || null;

/** Prints the visible skip notice once per file; returns whether the Postgres part can run. */
export function postgresAvailable(what: string): boolean {
  if (!PG_URL) console.warn(`SKIP ${what}: OC_TEST_DATABASE_URL is not set (start a server with .ci/pg-up.sh)`);
  return PG_URL !== null;
}

export type TestDatabase = { url: string; name: string; sql: SQL; drop: () => Promise<void> };

/** A new, empty database on the test server; `drop` closes `sql` and removes it (and any other connection). */
export async function freshDatabase(label: string): Promise<TestDatabase> {
  if (!PG_URL) throw new Error("freshDatabase needs OC_TEST_DATABASE_URL");
  const name = `oc_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new SQL(PG_URL, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = new SQL(url, { bigint: true, max: 4 });
  return {
    url,
    name,
    sql,
    drop: async () => {
      await sql.close();
      const a = new SQL(PG_URL!, { max: 1 });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.close();
      }
    },
  };
}
