// Issue 18: on PostgreSQL a commit is durable when COMMIT returns because the store's connections force
// synchronous_commit on (src/store/postgres/engine.ts), so durable() resolves at once there. A database or role
// whose default is off (a common tuning) must not weaken that.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { storeConnection } from "../../src/store/postgres/engine";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";

describe.skipIf(!postgresAvailable("postgres-synchronous-commit.test.ts"))("synchronous_commit", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase("synccommit");
    await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET synchronous_commit = off`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the store's connections commit synchronously on a database whose default is off", async () => {
    // Control: a plain connection to the same database gets the database's default.
    const plain = new SQL(db.url, { max: 1 });
    const store = storeConnection(db.url, 3);
    try {
      expect((await plain`SHOW synchronous_commit`)[0].synchronous_commit).toBe("off");
      // Every connection of the pool, not only the first: hold three at once.
      const held = await Promise.all([store.reserve(), store.reserve(), store.reserve()]);
      try {
        for (const c of held) expect((await c`SHOW synchronous_commit`)[0].synchronous_commit).toBe("on");
      } finally {
        for (const c of held) c.release();
      }
    } finally {
      await plain.close();
      await store.close();
    }
  });
});
