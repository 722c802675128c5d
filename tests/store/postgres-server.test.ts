// The CI PostgreSQL (issue 18 item 6): reachable at OC_TEST_DATABASE_URL, a version the store supports, and a
// database per test file that really is separate and really goes away.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { freshDatabase, PG_URL, postgresAvailable, type TestDatabase } from "../helpers/postgres";

const run = postgresAvailable("postgres-server.test.ts");
let a: TestDatabase;
let b: TestDatabase;
beforeAll(async () => {
  if (!run) return;
  a = await freshDatabase("server_a");
  b = await freshDatabase("server_b");
});
afterAll(async () => {
  await a?.drop();
  await b?.drop();
});

test.skipIf(!run)("the test server is PostgreSQL 15 or newer, integers come back as BigInt", async () => {
  const [row] = await a.sql`SELECT current_setting('server_version_num')::int AS v, 9007199254740993::bigint AS big`;
  expect(Number(row.v)).toBeGreaterThanOrEqual(150000);
  expect(row.big).toBe(9007199254740993n);
});

test.skipIf(!run)("each fresh database is its own: a table made in one is not in the other; drop removes it", async () => {
  await a.sql`CREATE TABLE only_here (x BIGINT)`;
  const [seen] = await b.sql`SELECT COUNT(*)::int AS n FROM pg_tables WHERE tablename = 'only_here'`;
  expect(seen.n).toBe(0);
  const c = await freshDatabase("server_c");
  await c.drop();
  const admin = new SQL(PG_URL!, { max: 1 });
  const [gone] = await admin`SELECT COUNT(*)::int AS n FROM pg_database WHERE datname = ${c.name}`;
  await admin.close();
  expect(gone.n).toBe(0);
});
