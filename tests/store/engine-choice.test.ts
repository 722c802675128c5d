// Issue 18: OC_DATABASE_URL (config `databaseUrl`) chooses PostgreSQL for the store. Until the PostgreSQL store
// implements the whole port and the application reaches the store only through it, a gateway asked to serve on
// PostgreSQL refuses at start with a ConfigError that names what is missing, before it creates any SQLite file:
// never half of it on one engine. The PostgreSQL store itself opens (and migrates) on its own, as a node would.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { openGateway, startGateway } from "../../src/start";
import { databasePath } from "../../src/store/data-dir";
import { openPostgresStore } from "../../src/store/postgres/engine";
import { missingPostgresRepositories, postgresGaps } from "../../src/store/postgres/readiness";
import { POSTGRES_REPOSITORIES } from "../../src/store/postgres/repositories";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";

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

test("a gateway asked to serve on PostgreSQL refuses at start, says what is missing, and creates no SQLite file", async () => {
  const dir = dataDir();
  const env = { OC_DATABASE_URL: URL_WITH_SECRET, OC_DATA_DIR: dir };
  let refused: unknown;
  try {
    openGateway({ env });
  } catch (e) {
    refused = e;
  }
  expect(refused).toBeInstanceOf(ConfigError);
  const message = (refused as Error).message;
  expect(message).toContain("OC_DATABASE_URL");
  for (const gap of postgresGaps(["ledger"])) expect(message).toContain(gap.split(" (")[0]!);
  expect(message).not.toContain("s3cret-pw"); // a URL may carry a password: never echoed
  expect(existsSync(databasePath(dir))).toBe(false);
  // The serving path (`oc start`) refuses the same way.
  await expect(startGateway({ config: loadConfig({ env }) })).rejects.toBeInstanceOf(ConfigError);
  expect(existsSync(databasePath(dir))).toBe(false);
  // Without it the same data dir serves on SQLite.
  const gw = openGateway({ env: { OC_DATA_DIR: dir } });
  expect(existsSync(databasePath(dir))).toBe(true);
  gw.store.close();
});

test("the gaps are counted, not assumed: the missing repositories are exactly those not on PostgreSQL", () => {
  const all = ["ledger", "orders", "passkeys", "history"];
  expect(missingPostgresRepositories(all)).toEqual(
    all.filter((r) => !(POSTGRES_REPOSITORIES as readonly string[]).includes(r)),
  );
  expect(missingPostgresRepositories([...POSTGRES_REPOSITORIES])).toEqual([]);
  expect(postgresGaps([...POSTGRES_REPOSITORIES]).some((g) => g.includes("lacks"))).toBe(false);
});

describe.skipIf(!postgresAvailable("engine-choice.test.ts (openPostgresStore)"))("the PostgreSQL store opens", () => {
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
  });
  test("on an empty database it creates the schema; two nodes opening at once share it", async () => {
    db = await freshDatabase("engine_choice");
    const [a, b] = await Promise.all([openPostgresStore(db.url, { max: 2 }), openPostgresStore(db.url, { max: 2 })]);
    await a.transaction((tx) =>
      tx.ledger.move({ from: "funding", to: "user:n", currency: "USD", amount: 5n, reason: "t", now: 1 }),
    );
    expect(await b.read((tx) => tx.ledger.balance("user:n", "USD"))).toBe(5n);
    await a.close();
    await b.close();
  });
});
