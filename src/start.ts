// Boot: config → data dir → database → key → gateway → HTTP server. Used by `serve` and by the tests alike.
import { loadConfig, withPort, type Config, type ConfigInput } from "./config";
import { lockDataDir, prepareDataDir } from "./store/data-dir";
import { openPortStore, openStore, type PortStore, type SqliteInspection, type Store } from "./store";
import { ConfigError } from "./config-error";
import { loadOrCreateKey, type GatewayKey } from "./keyfile";
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

export type RunningGateway<G extends Omit<Gateway, "store"> = Gateway> = {
  gw: G;
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
 * What tests get to inspect a SQLite gateway: the gateway plus the SQLite inspection handle (`db`) the tests read
 * the database with, and the store typed in full (its synchronous repositories, the tests' seeding and inspection
 * handle). A copy: the gateway the server and the scheduler run on has no database handle and sees only the port.
 */
export type InspectableGateway = Omit<Gateway, "store"> & { readonly store: Store; readonly db: SqliteInspection };

/** The configuration, its logger, and the data dir made ready (it holds the key file and, on SQLite, the database). */
function configure(opts: StartOptions, serving: boolean): { config: Config; log: Logger } {
  const config = resolvePort(opts.config ?? loadConfig({ env: opts.env, overrides: opts.overrides }));
  const log = opts.log ?? createLogger(config.logLevel);
  if (serving) for (const w of config.warnings ?? []) log.warn(`config: ${w}`);
  prepareDataDir(config.dataDir);
  return { config, log };
}

/**
 * The gateway over an opened store: the key loaded, the gateway built. `serving`: a server process gets its
 * verification workers; CLI commands verify inline. On a failure the store is closed before the error propagates.
 */
async function compose(
  opts: StartOptions,
  config: Config,
  log: Logger,
  store: PortStore,
  serving: boolean,
): Promise<Gateway> {
  const clock = opts.clock ?? systemClock;
  let key;
  try {
    key = await boundKey(store, config, loadOrCreateKey(config), clock);
  } catch (e) {
    await store.close();
    throw e;
  }
  for (const w of key.warnings ?? []) log.warn(w);
  const verifier =
    serving && config.verifyWorkers > 0
      ? workerVerifier(
          config.verifyWorkers,
          (e) => log.error("verification worker failed", { error: String(e) }),
          undefined,
          {
            sign: config.signOnWorkers,
          },
        )
      : undefined;
  return buildGateway({ config, store, key, clock, log, verifier });
}

/**
 * On a database several nodes share, this node's key and OCID must be the ones recorded there (refused otherwise:
 * src/store/postgres/identity.ts), and the previous key every node publishes is the one recorded by `oc keys
 * rotate`, not a file of this node's data dir. SQLite: the key as loaded.
 */
async function boundKey(store: PortStore, config: Config, key: GatewayKey, clock: Clock): Promise<GatewayKey> {
  if (!store.sharedIdentity) return key;
  const mine = { ocid: config.ocid, publicKeyHex: key.publicKeyHex };
  const recorded = await store.sharedIdentity.bind(mine, clock());
  return { ...key, previous: recorded.previous };
}

/** The SQLite store, refused when the configuration names PostgreSQL (inspection exists for SQLite only). */
function openSqliteStore(config: Config, groupCommit: boolean): { store: Store; inspection: SqliteInspection } {
  if (config.databaseUrl)
    throw new ConfigError(
      "databaseUrl (OC_DATABASE_URL) is set: the SQLite inspection handle does not exist on PostgreSQL; open the " +
        "gateway through its port (openPortGateway, startGateway)",
    );
  return openStore(config.dataDir, config.sqliteSynchronous, {
    groupCommit,
    batchTransactions: config.sqliteBatchTransactions,
  });
}

/** A SQLite gateway with its inspection handles, not serving (tests). */
export function openGateway(opts: StartOptions = {}): InspectableGateway {
  const { config, log } = configure(opts, false);
  const { store, inspection } = openSqliteStore(config, false);
  let key;
  try {
    key = loadOrCreateKey(config);
  } catch (e) {
    store.close();
    throw e;
  }
  for (const w of key.warnings ?? []) log.warn(w);
  const gw = buildGateway({ config, store, key, clock: opts.clock ?? systemClock, log });
  return { ...gw, store, db: inspection };
}

/** A gateway on either engine (`databaseUrl` chooses), through the store's port, not serving: the CLI's. */
export async function openPortGateway(opts: StartOptions = {}): Promise<Gateway> {
  const { config, log } = configure(opts, false);
  return compose(opts, config, log, await openPortStore(config), false);
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

/** Serves on either engine (`databaseUrl` chooses): what `oc serve` and `bun run start` run. */
export function startGateway(opts: StartOptions & { announce?: (line: string) => void } = {}): Promise<RunningGateway> {
  return launch(opts, async (config, groupCommit) => ({
    store: await openPortStore(config, { groupCommit }),
    view: (gw) => gw,
  }));
}

/** Serves on SQLite and hands the tests the inspection handles (InspectableGateway) besides the running server. */
export function startInspectableGateway(
  opts: StartOptions & { announce?: (line: string) => void } = {},
): Promise<RunningGateway<InspectableGateway>> {
  return launch(opts, async (config, groupCommit) => {
    const { store, inspection } = openSqliteStore(config, groupCommit);
    return { store, view: (gw) => ({ ...gw, store, db: inspection }) };
  });
}

type OpenServing<G> = (config: Config, groupCommit: boolean) => Promise<{ store: PortStore; view: (gw: Gateway) => G }>;

/**
 * The serving process: takes the data dir's lock (one serving process per data dir on a machine; on PostgreSQL it
 * still guards the key files there, while the database is shared by every node), opens the store, builds the
 * gateway, listens, and starts the scheduler and the background sweeps. Every start-up failure is a ConfigError
 * saying what to do, and undoes what was opened.
 */
async function launch<G extends Omit<Gateway, "store">>(
  opts: StartOptions & { announce?: (line: string) => void },
  open: OpenServing<G>,
): Promise<RunningGateway<G>> {
  const { config, log } = configure(opts, true);
  const lock = lockDataDir(config.dataDir);
  let gw: Gateway;
  let view: (gw: Gateway) => G;
  try {
    const opened = await open(config, config.sqliteGroupCommit);
    view = opened.view;
    gw = await compose(opts, config, log, opened.store, true);
  } catch (e) {
    lock.release();
    throw e;
  }
  let scheduler: Scheduler | undefined;
  const app = createApp(gw, { schedulerAlive: () => scheduler?.alive ?? false });
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  let bus: Bus | undefined;
  const abandon = async () => {
    if (app.server) await app.stop(true).catch(() => {});
    metricsServer?.stop(true);
    await bus?.close().catch(() => {});
    gw.verifier.close();
    await gw.store.close();
    lock.release();
  };
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
    await abandon();
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
  // Refused while another live node on the database runs under this node id (issue 18): nothing stays open.
  await scheduler.start().catch(async (e) => {
    unrelay();
    await abandon();
    throw e;
  });
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
    gw: view(gw),
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
      await gw.store.close();
      lock.release();
    },
  };
}
