// `bun bench/variants.ts [seconds] [rounds]`: the max-throughput window of `bun run bench` (K=8 submits, closed loop) for
// several gateway configurations in turn, each with the figures of issue 20: orders/s, server CPU per order,
// crypto share, fraction of the two-core crypto limit, load generator and other processes' CPU. Used to choose
// the defaults (inline vs 1 vs 2 crypto workers, response signing on the workers, group commit vs SQLite's FULL).
// BENCH_VARIANTS='[{"name":"…","config":{…}}]' replaces the list.
import { cpus } from "node:os";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../src/protocol/keys";
import { measureCeiling } from "./ceiling";
import { GATEWAY_OCID, machineBusySeconds, startGatewayProcess } from "./gateway";
import { closedLoop } from "./load";
import { signSubmit, startMerchants, stopMerchants } from "./peers";
import { fmt, section, type Row } from "./report";

type Variant = { name: string; sync?: "FULL" | "NORMAL"; config: Record<string, unknown> };
const SECONDS = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.argv[3] ?? 3);
const K = Number(process.env.BENCH_CONCURRENCY ?? 8);
const VARIANTS: Variant[] = process.env.BENCH_VARIANTS
  ? (JSON.parse(process.env.BENCH_VARIANTS) as Variant[])
  : [
      { name: "inline (verifyWorkers 0)", config: { verifyWorkers: 0 } },
      { name: "1 verify worker", config: { verifyWorkers: 1 } },
      { name: "2 verify workers", config: { verifyWorkers: 2 } },
      { name: "1 worker, signing on it", config: { verifyWorkers: 1, signOnWorkers: true } },
      { name: "2 workers, signing on them", config: { verifyWorkers: 2, signOnWorkers: true } },
      { name: "group commit off (SQLite FULL)", config: { sqliteGroupCommit: false } },
      { name: "NORMAL", sync: "NORMAL", config: {} },
    ];

const gwKey = generatePrivateKeyHex();
const merchants = await startMerchants(4, publicKeyHex(parsePrivateKey(gwKey)!));
const ceiling = measureCeiling(signSubmit(merchants[0]!, "0".repeat(32), GATEWAY_OCID), merchants[0]!.peer.publicKeyHex, {
  ocid: GATEWAY_OCID,
  secret: parsePrivateKey(gwKey)!,
  endpoint: "http://127.0.0.1:65535/opencharge",
});
const limit = (cpus().length * 1000) / ceiling.crypto_cpu_ms_per_order;
const WARM = 1000;
const need = WARM + Math.ceil(limit * 0.8 * SECONDS * ROUNDS);
const rows: Row[] = [];
const out: Record<string, unknown>[] = [];
// Every variant up at once (idle but one), then ROUNDS windows each, interleaved A B C … A B C …, median per
// variant: a burst of other load on this shared machine then hits one window of each, not one variant.
const gws = [];
for (const v of VARIANTS) {
  const gw = await startGatewayProcess({
    privateKey: gwKey,
    merchants: merchants.map((m) => ({ ocid: m.ocid, endpoint: m.peer.endpoint })),
    users: 4,
    history: 1000,
    pendingSessions: need,
    sqliteSynchronous: v.sync ?? "FULL",
    config: v.config,
  });
  const reqs = gw.pending.map((s, i) => signSubmit(merchants[i % merchants.length]!, s.id, GATEWAY_OCID));
  const warm = await closedLoop(gw.url, reqs.slice(0, WARM), K, 30);
  gws.push({ v, gw, reqs, next: WARM, errors: warm.errors, windows: [] as ReturnType<typeof figures>[] });
}
/** The store's SQLite transactions and the store transactions they carried (GET /metrics; absent on PostgreSQL). */
async function storeCounts(url: string): Promise<{ transactions: number; members: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}\\{kind="write"\\} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  return { transactions: read("oc_sqlite_transactions_total"), members: read("oc_sqlite_transaction_members_total") };
}
/** The event loop's and the crypto workers' CPU seconds (Bun names those threads "Worker"), from one /proc read. */
function threadSplit(gw: { threadCpuSeconds(): Map<string, number> }): { main: number; worker: number } {
  const t = gw.threadCpuSeconds();
  return { main: t.get("main") ?? NaN, worker: t.get("Worker") ?? 0 };
}
type Window = { main: number; worker: number; transactions: number; members: number };
function figures(r: Awaited<ReturnType<typeof closedLoop>>, cpu: number, machine: number, w: Window) {
  const perOrder = (1000 * cpu) / r.ok;
  return {
    per_s: r.per_s,
    p50: r.latency_ms.p50,
    p99: r.latency_ms.p99,
    server_cpu_ms_per_order: perOrder,
    main_thread_cpu_ms_per_order: (1000 * w.main) / r.ok,
    worker_cpu_ms_per_order: (1000 * w.worker) / r.ok,
    // write store transactions per SQLite write transaction in the window (1 = no batching)
    mean_batch: w.members / w.transactions,
    server_cpu_pct: (100 * cpu) / r.seconds,
    crypto_share: ceiling.crypto_cpu_ms_per_order / perOrder,
    limit_fraction: r.per_s / limit,
    client_cpu_pct: r.client_cpu_pct,
    other_processes_cpu_pct: Math.max(0, (100 * (machine - cpu)) / r.seconds - r.client_cpu_pct),
    errors: r.errors,
  };
}
for (let round = 0; round < ROUNDS; round++)
  for (const g of gws) {
    const s0 = await storeCounts(g.gw.url);
    const t0 = threadSplit(g.gw);
    const cpu0 = g.gw.cpuSeconds();
    const m0 = machineBusySeconds();
    const r = await closedLoop(g.gw.url, g.reqs.slice(g.next), K, SECONDS);
    const cpu = g.gw.cpuSeconds() - cpu0;
    const machine = machineBusySeconds() - m0;
    const t1 = threadSplit(g.gw);
    const s1 = await storeCounts(g.gw.url);
    g.next += r.sent;
    const w = {
      main: t1.main - t0.main,
      worker: t1.worker - t0.worker,
      transactions: s1.transactions - s0.transactions,
      members: s1.members - s0.members,
    };
    g.windows.push(figures(r, cpu, machine, w));
  }
for (const g of gws) {
  await g.gw.stop();
  const med = (k: keyof ReturnType<typeof figures>) => g.windows.map((w) => w[k]).sort((a, b) => a - b)[Math.floor(g.windows.length / 2)]!;
  const fig = {
    name: g.v.name,
    per_s: med("per_s"),
    p50: med("p50"),
    p99: med("p99"),
    server_cpu_ms_per_order: med("server_cpu_ms_per_order"),
    main_thread_cpu_ms_per_order: med("main_thread_cpu_ms_per_order"),
    worker_cpu_ms_per_order: med("worker_cpu_ms_per_order"),
    mean_batch: med("mean_batch"),
    server_cpu_pct: med("server_cpu_pct"),
    crypto_share: med("crypto_share"),
    limit_fraction: med("limit_fraction"),
    client_cpu_pct: med("client_cpu_pct"),
    other_processes_cpu_pct: med("other_processes_cpu_pct"),
    errors: g.errors + g.windows.reduce((a, w) => a + w.errors, 0),
    windows: g.windows.map((w) => Math.round(w.per_s)),
  };
  out.push(fig);
  rows.push([
    g.v.name,
    `${fmt.f(fig.per_s)}/s  p50 ${fmt.f(fig.p50, 2)} p99 ${fmt.f(fig.p99, 2)} ms  CPU ${fmt.f(fig.server_cpu_ms_per_order, 3)} ms/order ` +
      `(${fmt.f(fig.server_cpu_pct, 0)}%)  main ${fmt.f(fig.main_thread_cpu_ms_per_order, 3)}  ` +
      `worker ${fmt.f(fig.worker_cpu_ms_per_order, 3)}  ` +
      `batch ${fmt.f(fig.mean_batch, 2)}  share ${fmt.f(fig.crypto_share, 3)}  limit ${fmt.f(fig.limit_fraction, 3)}  ` +
      `client ${fmt.f(fig.client_cpu_pct, 0)}%  others ${fmt.f(fig.other_processes_cpu_pct, 0)}%  [${fig.windows.join(" ")}]` +
      (fig.errors ? `  ERRORS ${fig.errors}` : ""),
  ]);
}
await stopMerchants(merchants);
console.log(
  section(`Variants: K=${K}, median of ${ROUNDS} interleaved windows of ${SECONDS} s; crypto ${fmt.f(ceiling.crypto_cpu_ms_per_order, 3)} ms/order, ${cpus().length}-core limit ${fmt.f(limit)}/s`, rows),
);
console.log(JSON.stringify(out));
