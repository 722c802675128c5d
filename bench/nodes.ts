// The multi-node phase of `bun run bench` (issue 18): submits/s with 1, 2 and 3 gateway nodes on one PostgreSQL
// database, in one run, each node its own process with the same OCID and key and its own node id; the load is
// spread evenly, K connections per node, pre-signed submits on sessions seeded before start. The figure is the
// ratio per added node, printed next to the SQLite single-node figure. PostgreSQL: OC_BENCH_DATABASE_URL (a server
// the bench may create databases on), else a throwaway cluster started with .ci/pg-up.sh (only when PostgreSQL is
// installed; the bench never installs it) and stopped at the end. Without either, or when the gateway cannot serve
// on PostgreSQL, the phase is skipped and says why.
// Alone: `bun bench/nodes.ts` (its own SQLite single-node window as the reference; BENCH_NODES_SECONDS, default 3).
import { SQL } from "bun";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../src/protocol/keys";
import { GATEWAY_OCID, machineBusySeconds, startGatewayProcess, type GatewayProc, type GatewaySetup } from "./gateway";
import { closedLoop, type LoadResult } from "./load";
import { signSubmit, startMerchants, stopMerchants, type Merchant, type SignedSubmit } from "./peers";
import { fmt, section, type Row } from "./report";
import { sessionIds } from "./seed";

const ROOT = resolve(import.meta.dir, "..");
const NODE_COUNTS = [1, 2, 3] as const;
const USERS = 4;
/** Submits per node before each timed window (JIT, connections, metadata fetch), not recorded. */
const WARMUP_PER_NODE = 200;
/** Sessions for the standalone run's SQLite window, per second of it (it ends early if they run out). */
const SQLITE_GUESS_PER_S = 1200;

export type NodesWindow = {
  nodes: number;
  per_s: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  /** the slowest node's latency figures */
  p50_ms: number;
  p99_ms: number;
  /** all gateway processes' CPU, % of one core */
  servers_cpu_pct: number;
  /** the whole machine's busy CPU (PostgreSQL, the load generator and anything else included), % of one core */
  machine_busy_pct: number;
  /** per_s ÷ the previous window's per_s: what the added node brought */
  ratio_to_previous: number | null;
  /** per_s ÷ (nodes × the 1-node per_s): 1.0 is linear scaling */
  scaling_efficiency: number;
};

export type NodesResult =
  | { skipped: string }
  | {
      concurrency_per_node: number;
      seconds: number;
      postgres: NodesWindow[];
      sqlite_single_node_per_s: number;
      sqlite_figure_from: string;
      postgres_1_node_to_sqlite: number;
    };

/** A PostgreSQL server to create the phase's databases on, or why there is none. */
async function databaseServer(): Promise<{ url: string; stop: () => void } | { skipped: string }> {
  const given = process.env.OC_BENCH_DATABASE_URL;
  if (given) return { url: given, stop: () => {} };
  const installed = existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").length > 0;
  if (!installed)
    return { skipped: "no PostgreSQL: set OC_BENCH_DATABASE_URL, or install the postgresql package for .ci/pg-up.sh" };
  const env = { ...process.env, CI_PG_DIR: mkdtempSync(join(tmpdir(), "oc-bench-pg-")), CI_PG_PORT: "55499" };
  const up = Bun.spawnSync(["bash", ".ci/pg-up.sh"], { cwd: ROOT, env });
  const url = up.stdout.toString().trim().split("\n").pop() ?? "";
  const stop = () => void Bun.spawnSync(["bash", ".ci/pg-down.sh"], { cwd: ROOT, env });
  if (up.exitCode !== 0 || !url.startsWith("postgres")) {
    stop();
    return { skipped: `.ci/pg-up.sh failed (${up.exitCode}): ${up.stderr.toString().trim().slice(-300)}` };
  }
  return { url, stop };
}

/** A fresh database on the server for one window; dropped afterwards. */
async function freshDatabase(serverUrl: string, nodes: number): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `oc_bench_nodes${nodes}_${Math.random().toString(16).slice(2, 10)}`;
  const admin = new SQL(serverUrl, { max: 1 });
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  await admin.close();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new SQL(serverUrl, { max: 1 });
      await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.close();
    },
  };
}

/** K connections per node at once, each node its own slice of the pre-signed submits; the sum of the nodes. */
async function spreadLoad(
  gws: GatewayProc[],
  reqs: SignedSubmit[][],
  k: number,
  seconds: number,
): Promise<Omit<NodesWindow, "ratio_to_previous" | "scaling_efficiency">> {
  const cpu0 = gws.map((g) => g.cpuSeconds());
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  const results: LoadResult[] = await Promise.all(gws.map((g, i) => closedLoop(g.url, reqs[i]!, k, seconds)));
  const wall = (performance.now() - t0) / 1000;
  const cpu = gws.reduce((s, g, i) => s + g.cpuSeconds() - cpu0[i]!, 0);
  const ok = results.reduce((s, r) => s + r.ok, 0);
  return {
    nodes: gws.length,
    // Each node's rate over its own window (they run at once and end together), summed.
    per_s: results.reduce((s, r) => s + r.per_s, 0),
    ok,
    errors: results.reduce((s, r) => s + r.errors, 0),
    errorSamples: results.flatMap((r) => r.errorSamples).slice(0, 5),
    seconds: Math.max(...results.map((r) => r.seconds)),
    p50_ms: Math.max(...results.map((r) => r.latency_ms.p50)),
    p99_ms: Math.max(...results.map((r) => r.latency_ms.p99)),
    servers_cpu_pct: (100 * cpu) / wall,
    machine_busy_pct: (100 * (machineBusySeconds() - machine0)) / wall,
  };
}

export type NodesOptions = {
  privateKey: string;
  merchants: Merchant[];
  /** K per node */
  concurrency: number;
  seconds: number;
  /** The SQLite single-node orders/s to compare with (and to size the pre-signed batches); measured when absent. */
  sqlite?: { per_s: number; from: string };
  say: (s: string) => void;
};

export async function measureNodes(o: NodesOptions): Promise<NodesResult> {
  const server = await databaseServer();
  if ("skipped" in server) return server;
  const setup = (extra: Partial<GatewaySetup>) =>
    startGatewayProcess({
      privateKey: o.privateKey,
      merchants: o.merchants.map((m) => ({ ocid: m.ocid, endpoint: m.peer.endpoint })),
      users: USERS,
      history: 0,
      pendingSessions: 0,
      sqliteSynchronous: "FULL",
      ...extra,
    });
  const presign = (ids: string[]): SignedSubmit[] =>
    ids.map((id, i) => signSubmit(o.merchants[i % o.merchants.length]!, id, GATEWAY_OCID));
  try {
    let sqlite = o.sqlite;
    if (!sqlite) {
      o.say(`multi-node phase: SQLite single node first (the reference), K=${o.concurrency}, ${o.seconds} s`);
      const count = WARMUP_PER_NODE + SQLITE_GUESS_PER_S * o.seconds;
      const gw = await setup({ pendingSessions: count });
      const reqs = presign(gw.pending.map((p) => p.id));
      await closedLoop(gw.url, reqs.slice(0, WARMUP_PER_NODE), o.concurrency, 30);
      const r = await spreadLoad([gw], [reqs.slice(WARMUP_PER_NODE)], o.concurrency, o.seconds);
      await gw.stop();
      sqlite = { per_s: r.per_s, from: `this phase's own window (K=${o.concurrency}, ${o.seconds} s, FULL)` };
    }
    // Submits for 1.5 × the SQLite rate over a window, shared by the nodes (if PostgreSQL scales past that, the
    // batch runs out early: the window is then shorter and the rate still right). Signed once (~2.6 ms each on the
    // loaded 2-core machine) and used in every window: each window's fresh database holds the same session ids,
    // and nonces are remembered per database.
    const budget = Math.ceil(sqlite.per_s * 1.5 * o.seconds);
    const last = NODE_COUNTS[NODE_COUNTS.length - 1]!;
    const ids = sessionIds(last * WARMUP_PER_NODE + budget);
    o.say(`multi-node phase: pre-signing ${ids.length} submits`);
    const signed = presign(ids);
    const windows: NodesWindow[] = [];
    for (const n of NODE_COUNTS) {
      const db = await freshDatabase(server.url, n);
      const gws: GatewayProc[] = [];
      try {
        const first = await setup({ databaseUrl: db.url, sessionIds: ids, nodeId: "node0" });
        gws.push(first);
        for (let i = 1; i < n; i++)
          gws.push(await setup({ databaseUrl: db.url, sharesWith: first, nodeId: `node${i}` }));
        o.say(
          `multi-node phase: ${n} node${n > 1 ? "s" : ""} on PostgreSQL, K=${o.concurrency} per node, ${o.seconds} s`,
        );
        const perNode = Math.floor(budget / n);
        const warmup = (i: number) => signed.slice(i * WARMUP_PER_NODE, (i + 1) * WARMUP_PER_NODE);
        const timed = (i: number) => signed.slice(last * WARMUP_PER_NODE + i * perNode).slice(0, perNode);
        const warm = await Promise.all(gws.map((g, i) => closedLoop(g.url, warmup(i), o.concurrency, 30)));
        const warmErrors = warm.flatMap((w) => w.errorSamples);
        if (warmErrors.length) throw new Error(`warm-up errors with ${n} nodes: ${warmErrors.join("; ")}`);
        const w = await spreadLoad(
          gws,
          gws.map((_, i) => timed(i)),
          o.concurrency,
          o.seconds,
        );
        const prev = windows.at(-1);
        windows.push({
          ...w,
          ratio_to_previous: prev ? w.per_s / prev.per_s : null,
          scaling_efficiency: w.per_s / (n * (windows[0]?.per_s ?? w.per_s)),
        });
      } catch (e) {
        const reason = String((e as Error).message ?? e).slice(0, 400);
        if (windows.length === 0) return { skipped: `the gateway did not serve on PostgreSQL: ${reason}` };
        throw e;
      } finally {
        await Promise.all(gws.map((g) => g.stop()));
        await db.drop();
      }
    }
    return {
      concurrency_per_node: o.concurrency,
      seconds: o.seconds,
      postgres: windows,
      sqlite_single_node_per_s: sqlite.per_s,
      sqlite_figure_from: sqlite.from,
      postgres_1_node_to_sqlite: windows[0]!.per_s / sqlite.per_s,
    };
  } finally {
    server.stop();
  }
}

export function nodesSection(r: NodesResult): string {
  if ("skipped" in r) return section("8. Several nodes on PostgreSQL", [["skipped", r.skipped]]);
  const rows: Row[] = [
    ["SQLite, 1 node", `${fmt.f(r.sqlite_single_node_per_s)} submits/s  (${r.sqlite_figure_from})`],
    ...r.postgres.map(
      (w): Row => [
        `PostgreSQL, ${w.nodes} node${w.nodes > 1 ? "s" : ""}`,
        `${fmt.f(w.per_s)} submits/s` +
          (w.ratio_to_previous === null
            ? ` (×${fmt.f(r.postgres_1_node_to_sqlite, 2)} of SQLite)`
            : ` (×${fmt.f(w.ratio_to_previous, 2)} for the added node, efficiency ${fmt.f(w.scaling_efficiency, 2)})`) +
          `, p50 ${fmt.f(w.p50_ms, 2)} p99 ${fmt.f(w.p99_ms, 2)} ms, errors ${w.errors}${w.errors ? " " + w.errorSamples.join(" | ") : ""}; ` +
          `gateways ${fmt.f(w.servers_cpu_pct, 0)}% of a core, machine ${fmt.f(w.machine_busy_pct, 0)}%`,
      ],
    ),
  ];
  return section(
    `8. Several nodes on one PostgreSQL (K=${r.concurrency_per_node} per node, ${r.seconds} s each, same key and OCID)`,
    rows,
  );
}

if (import.meta.main) {
  const t0 = performance.now();
  const say = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);
  const privateKey = generatePrivateKeyHex();
  const merchants = await startMerchants(4, publicKeyHex(parsePrivateKey(privateKey)!));
  const seconds = Number(process.env.BENCH_NODES_SECONDS ?? 3);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
  const r = await measureNodes({ privateKey, merchants, concurrency, seconds, say });
  await stopMerchants(merchants);
  console.log(nodesSection(r));
  const errors = "skipped" in r ? 0 : r.postgres.reduce((s, w) => s + w.errors, 0);
  process.exit(errors ? 1 : 0);
}
