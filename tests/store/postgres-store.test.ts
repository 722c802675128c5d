// The PostgreSQL store's members beside its repositories (src/store/postgres/store.ts): readiness's real write
// succeeds on a writable database and fails on one that only reads; `oc backup` is refused with what to use
// instead (pg_dump), as a ConfigError the CLI prints as one line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { migratePostgres } from "../../src/store/postgres/schema";
import { postgresStoreMembers, POSTGRES_BACKUP_ADVICE } from "../../src/store/postgres/store";
import { ConfigError } from "../../src/config-error";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";
import { thrown } from "../helpers/settled";

const run = postgresAvailable("postgres-store.test.ts");

describe.skipIf(!run)("a PostgreSQL store's probeWrite, backupInto and close", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase("store_members");
    await migratePostgres(db.sql);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("probeWrite writes the health row on a writable database, and fails where the database only reads", async () => {
    const members = postgresStoreMembers(new SQL(db.url, { bigint: true, max: 2 }));
    const before = Date.now();
    await members.probeWrite();
    await members.probeWrite(); // the same row, updated
    const rows = await db.sql`SELECT id, at FROM health_probe`;
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].at)).toBeGreaterThanOrEqual(before);
    await members.close();

    await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = on`);
    const readOnly = postgresStoreMembers(new SQL(db.url, { bigint: true, max: 1 }));
    try {
      expect(await thrown(readOnly.probeWrite())).toThrow(/read-only/);
    } finally {
      await readOnly.close();
      await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = off`);
    }
  });

  test("backupInto refuses with the operator's alternative (pg_dump), as one line, and writes no file", async () => {
    const members = postgresStoreMembers(new SQL(db.url, { max: 1 }));
    const target = `/tmp/oc-never-${process.pid}.sqlite`;
    let refused: unknown;
    try {
      members.backupInto(target);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(POSTGRES_BACKUP_ADVICE);
    expect(POSTGRES_BACKUP_ADVICE).toContain("pg_dump");
    expect(POSTGRES_BACKUP_ADVICE).not.toContain("\n");
    expect(await Bun.file(target).exists()).toBe(false);
    await members.close();
  });
});
