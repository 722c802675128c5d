// Boot: config → data dir → database → key → gateway → HTTP server. Used by `serve` and by the tests alike.
import { loadConfig, withPort, type Config, type ConfigInput } from "./config";
import { lockDataDir, prepareDataDir, type DataDirLock } from "./store/data-dir";
import { openStore, type SqliteInspection, type Store } from "./store";
import { loadOrCreateKey } from "./keyfile";
import type { Gateway } from "./gateway";
import { buildGateway } from "./compose";
import { createLogger, type Logger } from "./log";
import { systemClock, type Clock } from "./clock";
import { createApp } from "./routes/server";
import { expireDueOrders } from "./flows/answer-payment";
import { createUser } from "./flows/accounts";
import { Scheduler } from "./settlement/scheduler";
import { workerVerifier } from "./verify-pool";
import { eventDrainer } from "./event-log";
import { durable } from "./store/durability";
import { Elysia } from "elysia";
import { hostname } from "node:os";
import { metricsRoute } from "./routes/ops";
import { TOKEN_SWEEP_MS } from "./app/hub";
import { openBus, type Bus } from "./app/bus";
import { relayChanges } from "./notify/relay";
import { PRUNE_BATCH } from "./store/nonces";

export type RunningGateway = {
  gw: InspectableGateway;
  url: string;
  port: number;
  scheduler: Scheduler;
  /** The separate /metrics listener's port, when `metrics.port` is set. */
  metricsPort?: number;
  stop: (reason?: string) => Promise<void>;
};

export type StartOptions = {
  config?: Config;
  overrides?: ConfigInput;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log?: Logger;
};

/** Asks the OS for a free port so every URL we publish names the port we will listen on. */
function resolvePort(config: Config): Config {
  if (config.port !== 0) return config;
  const probe = Bun.serve({ hostname: config.host, port: 0, fetch: () => new Response(null) });
  const port = probe.port!;
  probe.stop(true);
  return withPort(config, port);
}

/**
 * `serving`: a server process takes the data dir's lock and gets its verification workers; CLI commands verify
 * inline and share the database with the server. Every start-up failure is a ConfigError saying what to do.
 */
type OpenOptions = StartOptions & { serving?: boolean; lock?: (l: DataDirLock) => void };

/**
 * What tests and the CLI get: the gateway plus the SQLite inspection handle (`db`) the tests read the database
 * with, and the store typed in full (its synchronous repositories, the tests' seeding and inspection handle). A
 * copy: the gateway the server and the scheduler run on has no database handle and sees only the store's port.
 */
export type InspectableGateway = Omit<Gateway, "store"> & { readonly store: Store; readonly db: SqliteInspection };

export function openGateway(opts: OpenOptions = {}): InspectableGateway {
  const { gw, store, inspection } = assemble(opts);
  return { ...gw, store, db: inspection };
}

function assemble(opts: OpenOptions): { gw: Gateway; store: Store; inspection: SqliteInspection } {
  const config = resolvePort(opts.config ?? loadConfig({ env: opts.env, overrides: opts.overrides }));
  const log = opts.log ?? createLogger(config.logLevel);
  if (opts.serving) for (const w of config.warnings ?? []) log.warn(`config: ${w}`);
  prepareDataDir(config.dataDir);
  const lock = opts.serving ? lockDataDir(config.dataDir) : undefined;
  let opened;
  let key;
  try {
    opened = openStore(config.dataDir, config.sqliteSynchronous, {
      groupCommit: opts.serving && config.sqliteGroupCommit,
      databaseUrl: config.databaseUrl,
    });
    key = loadOrCreateKey(config);
  } catch (e) {
    opened?.store.close();
    lock?.release();
    throw e;
  }
  if (lock) opts.lock?.(lock);
  for (const w of key.warnings ?? []) log.warn(w);
  const verifier =
    opts.serving && config.verifyWorkers > 0
      ? workerVerifier(
          config.verifyWorkers,
          (e) => log.error("verification worker failed", { error: String(e) }),
          undefined,
          {
            sign: config.signOnWorkers,
          },
        )
      : undefined;
  const gw = buildGateway({ config, store: opened.store, key, clock: opts.clock ?? systemClock, log, verifier });
  return { gw, store: opened.store, inspection: opened.inspection };
}

/** Start-up checks that must never fail silently, and demo data on an empty database (§10.1). */
async function prepare(gw: Gateway, announce: (line: string) => void): Promise<void> {
  const { ledgerCheck, users } = await gw.store.read(async (tx) => ({
    ledgerCheck: await tx.ledger.checkBalances(),
    users: (await tx.users.list()).length,
  }));
  if (!ledgerCheck.ok) gw.log.error("LEDGER INVARIANT BROKEN", { problems: ledgerCheck.problems });
  // Every start, not only the first: demo mode lets anyone who reaches the page create funded users.
  if (gw.config.demoMode)
    gw.log.warn("DEMO MODE: anyone who reaches this gateway can create funded users; never use it in production");
  if (gw.config.demoMode && users === 0) {
    const { user, token } = await createUser(gw, "demo", gw.config.demoBalance);
    gw.log.warn("demo mode: created a funded demo user", { user: user.id });
    announce(`demo user "${user.name}" created; its bearer token (shown once):\n${token}`);
  }
}

/** One small transaction per batch, so a backlog never holds the write lock for long. */
async function pruneNonces(gw: Pick<Gateway, "clock" | "store">): Promise<void> {
  const now = gw.clock();
  while ((await gw.store.transaction((tx) => tx.nonces.pruneBatch(now))) === PRUNE_BATCH);
}

export async function startGateway(
  opts: StartOptions & { announce?: (line: string) => void } = {},
): Promise<RunningGateway> {
  let lock: DataDirLock | undefined;
  const { gw, store, inspection } = assemble({ ...opts, serving: true, lock: (l) => (lock = l) });
  let scheduler: Scheduler | undefined;
  const app = createApp(gw, { schedulerAlive: () => scheduler?.alive ?? false });
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  let bus: Bus | undefined;
  try {
    await prepare(gw, opts.announce ?? ((l) => console.error(l)));
    // Pushes across nodes (src/notify/relay.ts): LISTEN/NOTIFY on PostgreSQL, in process on SQLite.
    bus = await openBus(gw.config.databaseUrl, `${hostname()}:${gw.config.port}`);
    app.listen({
      hostname: gw.config.host,
      port: gw.config.port,
      reusePort: false,
      maxRequestBodySize: 4 * gw.config.maxBodyBytes,
    });
    const m = gw.config.metrics;
    if (m.port !== undefined) {
      const metricsApp = new Elysia().use(metricsRoute(gw));
      metricsServer = Bun.serve({
        hostname: m.host,
        port: m.port,
        reusePort: false,
        fetch: (req) => metricsApp.handle(req),
      });
    }
  } catch (e) {
    if (app.server) await app.stop(true).catch(() => {});
    await bus?.close().catch(() => {});
    gw.verifier.close();
    gw.store.close();
    lock?.release();
    throw e;
  }
  const server = app.server!;
  const port = server.port!;
  const unrelay = relayChanges(gw, bus);
  gw.hub.attach(
    (topic, data) => server.publish(topic, data),
    bus,
    (e) => gw.log.warn("change not sent to the other nodes (their users get it on reconnect)", { error: String(e) }),
  );
  scheduler = new Scheduler(gw, gw.config.scheduler);
  scheduler.start();
  const sweeper = setInterval(() => {
    expireDueOrders(gw).catch((e) => gw.log.warn("expiry sweep failed", { error: String(e) }));
  }, 10_000);
  // Tokens revoked by another process (the CLI) or expired close their open sockets within TOKEN_SWEEP_MS.
  const tokenSweeper = setInterval(() => {
    gw.hub.sweep().catch((e) => gw.log.warn("socket token sweep failed", { error: String(e) }));
  }, TOKEN_SWEEP_MS);
  // Expired nonces go in the background, in small batches, never on a request's path (§4.4).
  const pruner = setInterval(() => {
    pruneNonces(gw).catch((e) => gw.log.warn("nonce pruning failed", { error: String(e) }));
  }, 60_000);
  // The event log: committed business events, drained from the outbox every second and once more at stop.
  const drainEvents = eventDrainer(gw);
  // Logged once durable (group commit): the log must never tell of a commit a power loss could take back.
  const eventDrain = setInterval(() => {
    durable()
      .then(() => drainEvents())
      .catch((e) => gw.log.warn("event log drain failed", { error: String(e) }));
  }, 1000);
  gw.log.info("gateway listening", {
    url: `http://${gw.config.host}:${port}`,
    endpoint: gw.config.endpoint,
    ocid: gw.config.ocid,
  });
  return {
    gw: { ...gw, store, db: inspection },
    port,
    scheduler,
    metricsPort: metricsServer?.port,
    url: `http://${gw.config.host}:${port}`,
    stop: async (reason = "stop") => {
      const t0 = Date.now();
      gw.log.info("shutdown", { event: "shutdown", reason });
      await scheduler!.stop();
      metricsServer?.stop(true);
      clearInterval(eventDrain);
      try {
        while ((await drainEvents()) > 0);
      } catch (e) {
        gw.log.warn("event log drain failed", { error: String(e) });
      }
      clearInterval(pruner);
      clearInterval(tokenSweeper);
      clearInterval(sweeper);
      gw.verifier.close();
      await app.stop(true);
      unrelay();
      await bus.close().catch((e) => gw.log.warn("bus close failed", { error: String(e) }));
      gw.log.info("stopped", { event: "stopped", reason, ms: Date.now() - t0 });
      gw.store.close();
      lock?.release();
    },
  };
}
