// Issue 18: OC_DATABASE_URL (config `databaseUrl`) chooses PostgreSQL for the store, and the whole gateway serves
// on it: start-up, /readyz's write probe, the CLI. No SQLite file is created in the data dir then (never half of the
// gateway on one engine). A database that cannot be reached is a ConfigError that never echoes the URL (it may
// carry a password). Unset, the same data dir serves on SQLite as before.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { openGateway, openPortGateway, startGateway } from "../../src/start";
import { databasePath } from "../../src/store/data-dir";
import { openPostgresStore } from "../../src/store/postgres/engine";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";
import { rejectionOf } from "../helpers/settled";

const URL_WITH_SECRET = "postgres://gateway:s3cret-pw@127.0.0.1:1/oc";
const dataDir = () => mkdtempSync(join(tmpdir(), "oc-engine-"));

test("OC_DATABASE_URL is the databaseUrl setting; anything but a postgres URL is a configuration error", () => {
  const dir = dataDir();
  expect(loadConfig({ env: { OC_DATABASE_URL: URL_WITH_SECRET, OC_DATA_DIR: dir } }).databaseUrl).toBe(URL_WITH_SECRET);
  expect(loadConfig({ env: { OC_DATA_DIR: dir } }).databaseUrl).toBeUndefined();
  expect(() => loadConfig({ env: { OC_DATABASE_URL: "mysql://x@h/db", OC_DATA_DIR: dir } })).toThrow(ConfigError);
  expect(() => loadConfig({ env: { OC_DATABASE_URL: "mysql://x:pw-9@h/db", OC_DATA_DIR: dir } })).toThrow(
    /databaseUrl/,
  );
  // The refusal names the setting, never its value (a URL may carry a password).
  expect(() => loadConfig({ env: { OC_DATABASE_URL: "mysql://x:pw-9@h/db", OC_DATA_DIR: dir } })).not.toThrow(/pw-9/);
});

test("a PostgreSQL database that cannot be reached refuses the start with a ConfigError, no password, no SQLite file", async () => {
  const dir = dataDir();
  const env = { OC_DATABASE_URL: URL_WITH_SECRET, OC_DATA_DIR: dir };
  let refused: unknown;
  try {
    await startGateway({ config: loadConfig({ env }) });
  } catch (e) {
    refused = e;
  }
  expect(refused).toBeInstanceOf(ConfigError);
  expect((refused as Error).message).toContain("OC_DATABASE_URL");
  expect((refused as Error).message).not.toContain("s3cret-pw");
  expect(existsSync(databasePath(dir))).toBe(false);
  expect(await rejectionOf(openPortGateway({ env }))).toBeInstanceOf(ConfigError);
  // The SQLite inspection handle (tests) does not exist on PostgreSQL: refused, not silently SQLite.
  expect(() => openGateway({ env })).toThrow(/SQLite inspection/);
  expect(existsSync(databasePath(dir))).toBe(false);
  // Without it the same data dir serves on SQLite.
  const gw = openGateway({ env: { OC_DATA_DIR: dir } });
  expect(gw.store.engine).toBe("sqlite");
  expect(existsSync(databasePath(dir))).toBe(true);
  gw.store.close();
});

describe.skipIf(!postgresAvailable("engine-choice.test.ts (serving on PostgreSQL)"))("on PostgreSQL", () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });
  test("on an empty database the store creates the schema; two nodes opening at once share it", async () => {
    const db = await freshDatabase("engine_choice");
    dbs.push(db);
    const [a, b] = await Promise.all([openPostgresStore(db.url, { max: 2 }), openPostgresStore(db.url, { max: 2 })]);
    await a.transaction((tx) =>
      tx.ledger.move({ from: "funding", to: "user:n", currency: "USD", amount: 5n, reason: "t", now: 1 }),
    );
    expect(await b.read((tx) => tx.ledger.balance("user:n", "USD"))).toBe(5n);
    await a.close();
    await b.close();
  });

  test("the gateway serves on it: ready (the write probe awaited), data in PostgreSQL, no SQLite file", async () => {
    const db = await freshDatabase("engine_serve");
    dbs.push(db);
    const dir = dataDir();
    const env = {
      OC_DATABASE_URL: db.url,
      OC_DATA_DIR: dir,
      OC_PORT: "0",
      OC_HOST: "127.0.0.1",
      OC_LOG_LEVEL: "error",
    };
    const running = await startGateway({ config: loadConfig({ env }) });
    try {
      expect(running.gw.store.engine).toBe("postgres");
      const ready = await fetch(`${running.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks.database).toBe("ok");
      const [probe] = await db.sql`SELECT at FROM health_probe WHERE id = 1`;
      expect(probe).toBeDefined(); // the probe wrote to PostgreSQL
      expect(existsSync(databasePath(dir))).toBe(false);
    } finally {
      await running.stop();
    }
    // A read-only database is not ready: the probe's failure (a rejected Promise) is awaited and reported.
    await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = on`);
    const again = await startGateway({ config: loadConfig({ env }) }).catch((e) => e);
    if (again instanceof Error) throw again;
    try {
      const r = await fetch(`${again.url}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { checks: Record<string, string> }).checks.database).toContain("not writable");
    } finally {
      await again.stop();
      await db.sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = off`);
    }
  });
});
