// Starts the real gateway on a random loopback port with a throw-away data dir, on SQLite (inspectable through the
// synchronous store, startTestGateway) or on either engine through the port (startPortTestGateway, issue 18).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigInput } from "../../src/config";
import { startGateway, startInspectableGateway, type InspectableGateway, type RunningGateway } from "../../src/start";
import type { Gateway } from "../../src/gateway";
import { createLogger, type Logger } from "../../src/log";
import type { Clock } from "../../src/clock";
import { freshDatabase, PG_URL, type TestDatabase } from "./postgres";

/** Rate limits off: tests fire bursts from one IP and one OCID on purpose. */
export const NO_RATE_LIMITS = { perIp: 0, perOcid: 0, perToken: 0, payPerUser: 0, demoLoginPerIp: 0 };

export type TestGateway<G extends Omit<Gateway, "store"> = InspectableGateway> = RunningGateway<G> & {
  dataDir: string;
  /** A config file naming the gateway's database, for the CLI in another "process" (helpers/admin.ts oc). */
  configFile?: string;
  logs: string[];
  announcements: string[];
  close: () => Promise<void>;
};

export type TestEngine = "sqlite" | "postgres";

/**
 * The engine a both-engine suite runs on: OC_TEST_ENGINE=postgres (CI's second pass, .ci/run) puts it on a fresh
 * PostgreSQL database of OC_TEST_DATABASE_URL per gateway; anything else, SQLite.
 */
export function testEngine(): TestEngine {
  const engine = process.env.OC_TEST_ENGINE ?? "sqlite";
  if (engine !== "sqlite" && engine !== "postgres") throw new Error(`OC_TEST_ENGINE must be sqlite or postgres, not ${engine}`);
  if (engine === "postgres" && !PG_URL) throw new Error("OC_TEST_ENGINE=postgres needs OC_TEST_DATABASE_URL (.ci/pg-up.sh)");
  return engine;
}

type StartOpts = { clock?: Clock; dataDir?: string };

/** How one test gateway starts and what its close undoes besides stopping it. */
type Launch<G extends Omit<Gateway, "store">> = {
  run: (o: Parameters<typeof startGateway>[0]) => Promise<RunningGateway<G>>;
  dataDir: string;
  /** The helper made the data dir, so close removes it. */
  ownsDataDir: boolean;
  cleanup?: () => Promise<void>;
  configFile?: string;
};

async function start<G extends Omit<Gateway, "store">>(overrides: ConfigInput, opts: StartOpts, l: Launch<G>): Promise<TestGateway<G>> {
  const { dataDir, cleanup = async () => {} } = l;
  const logs: string[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(line));
  const config = loadConfig({
    env: {},
    overrides: { dataDir, host: "127.0.0.1", port: 0, outboundAllowlist: ["127.0.0.0/8"], sqliteSynchronous: "NORMAL", ...overrides },
  });
  const announcements: string[] = [];
  let running: RunningGateway<G>;
  try {
    running = await l.run({ config, clock: opts.clock, log, announce: (line) => announcements.push(line) });
  } catch (e) {
    await cleanup();
    throw e;
  }
  // publicUrl defaults to the configured port (0); tests talk to the real one.
  return {
    ...running,
    dataDir,
    configFile: l.configFile,
    logs,
    announcements,
    close: async () => {
      await running.stop();
      await cleanup();
      if (l.ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const dataDirOf = (opts: StartOpts) => ({
  dataDir: opts.dataDir ?? mkdtempSync(join(tmpdir(), "oc-test-")),
  ownsDataDir: opts.dataDir === undefined,
});

/** A SQLite gateway whose store and database the test may read and seed synchronously (`tg.gw.store.orders…`). */
export function startTestGateway(overrides: ConfigInput = {}, opts: StartOpts = {}): Promise<TestGateway> {
  return start(overrides, opts, { run: startInspectableGateway, ...dataDirOf(opts) });
}

/** The PostgreSQL database of a data dir the test owns (opts.dataDir): one per dir, kept across restarts. */
const ownedDatabases = new Map<string, TestDatabase>();

/**
 * A gateway the test reaches only through HTTP and the store's port (`await tg.gw.store.read(tx => …)`), on the
 * engine testEngine() names (or opts.engine). On PostgreSQL a fresh database of its own, dropped at close; when the
 * test passes its own data dir (to restart on it) the database belongs to that dir until removeTestDataDir.
 */
export async function startPortTestGateway(
  overrides: ConfigInput = {},
  opts: StartOpts & { engine?: TestEngine } = {},
): Promise<TestGateway<Gateway>> {
  const dir = dataDirOf(opts);
  if ((opts.engine ?? testEngine()) === "sqlite") return start(overrides, opts, { run: startGateway, ...dir });
  const kept = opts.dataDir ? ownedDatabases.get(opts.dataDir) : undefined;
  const db = kept ?? (await freshDatabase("gateway")); // its own pool connects lazily: unused here, closed by drop
  if (opts.dataDir) ownedDatabases.set(opts.dataDir, db);
  mkdirSync(dir.dataDir, { recursive: true, mode: 0o700 });
  const configFile = join(dir.dataDir, "oc-test-config.json");
  writeFileSync(configFile, JSON.stringify({ databaseUrl: db.url }), { mode: 0o600 });
  const cleanup = opts.dataDir ? undefined : db.drop;
  return start({ ...overrides, databaseUrl: db.url }, opts, { run: startGateway, ...dir, cleanup, configFile });
}

/** Removes a data dir the test made for restarts, and on PostgreSQL the database that went with it. */
export async function removeTestDataDir(dataDir: string): Promise<void> {
  await ownedDatabases.get(dataDir)?.drop();
  ownedDatabases.delete(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
}

/** Any test gateway seen through the port: what helpers that work on both engines take. */
export type PortTestGateway = TestGateway<Gateway>;
