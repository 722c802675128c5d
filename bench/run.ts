// `bun run bench`: crypto ceiling → real gateway process under load → latencies → growth. See bench/README.md.
// Knobs (environment): BENCH_CONCURRENCY (K, default 8), BENCH_SECONDS (max-throughput window, default 10),
// BENCH_HISTORY (orders in the big database, default 1000000), BENCH_KEEP=1 (keep the temp data dirs).
import { cpus, totalmem } from "node:os";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../src/protocol/keys";
import { measureCeiling } from "./ceiling";
import { GATEWAY_OCID, gatewayCommand, machineBusySeconds, startGatewayProcess, type BenchUser, type GatewayProc } from "./gateway";
import { closedLoop, openLoop, type LoadResult } from "./load";
import { openFlow, type FlowResult } from "./flow";
import { signSubmit, startMerchants, stopMerchants, webhookStats, type SignedSubmit } from "./peers";
import { fmt, section, writeResults, type Row } from "./report";
import { measureNodes, nodesSection } from "./nodes";

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const K = num("BENCH_CONCURRENCY", 8);
const MAX_SECONDS = num("BENCH_SECONDS", 10);
const OPEN_SECONDS = Math.max(3, Math.round(MAX_SECONDS * 0.8));
const PAY_SECONDS = 3;
const BIG = num("BENCH_HISTORY", 1_000_000);
const SMALL = 1_000;
/** Seeding the big database stops here (seconds into the run) so the whole run stays under 3 minutes. */
const SEED_DEADLINE_S = 120;
/** The interleaved flow stops sampling here (after at least 50 samples each), for the same reason. */
const FLOW_DEADLINE_S = 160;
const MERCHANTS = 4;
const USERS = 4;
/** Submits before each timed window: JSC's JIT threads still cost ~0.3 ms per order after 200, ~0.09 after 3000. */
const WARMUP = 1000;
const PAY_WARMUP = 200;
const FLOW_SAMPLES = 200;
const FLOW_WARMUP = 100;
/** Flow samples run and not recorded on each of S and C before the recorded ones. */
const FLOW_WARM_SAMPLES = 20;
/**
 * Before each recorded payment: the previous one (on the other gateway) still has work in flight when its webhook
 * arrives (the merchant peer's signed answer in this process, the gateway recording the delivery, its fsync and
 * scheduler pass), and "unloaded" means nothing else runs: 2 × 200 × 5 ms = 2 s of the run.
 */
const FLOW_PAUSE_MS = 5;

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;
const say = (s: string) => console.log(`[${elapsed()}] ${s}`);
const out: string[] = [];

const CORES = cpus().length;
const gwKey = generatePrivateKeyHex();
const gwPub = publicKeyHex(parsePrivateKey(gwKey)!);
const merchants = await startMerchants(MERCHANTS, gwPub);
const setup = (history: number, pendingSessions: number, sqliteSynchronous: "FULL" | "NORMAL", seedDeadline?: number) =>
  startGatewayProcess({
    privateKey: gwKey,
    merchants: merchants.map((m) => ({ ocid: m.ocid, endpoint: m.peer.endpoint })),
    users: USERS,
    history,
    pendingSessions,
    sqliteSynchronous,
    seedDeadline,
  });
/** POST /app/pay calls as one user, for closedLoop. */
const payCalls = (user: BenchUser, count: number): SignedSubmit[] =>
  Array.from({ length: count }, () => ({
    sessionId: "",
    orderId: "",
    path: "/app/pay",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: "{}",
  }));
const presign = (gw: GatewayProc, from: number, count: number): SignedSubmit[] =>
  gw.pending.slice(from, from + count).map((s, i) => signSubmit(merchants[i % MERCHANTS]!, s.id, GATEWAY_OCID));

/** Warm-up (not recorded: JIT, metadata fetch, connections), then the timed closed loop with the server's CPU. */
type MaxResult = LoadResult & {
  server_cpu_pct: number;
  server_cpu_ms_per_order: number;
  other_processes_cpu_pct: number;
  /** the server's CPU per order by thread kind: where it goes besides the crypto worker (ms, 10 ms clock ticks) */
  server_thread_cpu_ms_per_order: Record<string, number>;
  /** issue 20 (c): crypto CPU per order ÷ server CPU per order (process CPU: every thread, workers included) */
  crypto_share: number;
  /** issue 20 (d): orders/s ÷ (cores ÷ crypto CPU per order), the machine's limit if every core did only the crypto */
  limit_fraction: number;
};
async function maxThroughput(gw: GatewayProc, reqs: SignedSubmit[]): Promise<MaxResult> {
  const warm = await closedLoop(gw.url, reqs.slice(0, WARMUP), K, 30);
  if (warm.errors) throw new Error(`warm-up errors: ${warm.errorSamples.join("; ")}`);
  const cpu0 = gw.cpuSeconds();
  const threads0 = gw.threadCpuSeconds();
  const machine0 = machineBusySeconds();
  const r = await closedLoop(gw.url, reqs.slice(WARMUP), K, MAX_SECONDS);
  const cpu = gw.cpuSeconds() - cpu0;
  const threadMs: Record<string, number> = {};
  for (const [kind, s] of gw.threadCpuSeconds()) {
    const ms = (1000 * (s - (threads0.get(kind) ?? 0))) / r.ok;
    if (ms >= 0.005) threadMs[kind] = ms;
  }
  const machine = machineBusySeconds() - machine0;
  // Whatever else runs on this shared 2-core machine competes with the server: say how much there was.
  const others = Math.max(0, (100 * (machine - cpu)) / r.seconds - r.client_cpu_pct);
  const perOrder = (1000 * cpu) / r.ok;
  return {
    ...r,
    server_cpu_pct: (100 * cpu) / r.seconds,
    server_cpu_ms_per_order: perOrder,
    other_processes_cpu_pct: others,
    server_thread_cpu_ms_per_order: threadMs,
    crypto_share: ceiling.crypto_cpu_ms_per_order / perOrder,
    limit_fraction: r.per_s / cryptoLimit,
  };
}

// 1. Crypto ceiling (single thread, the gateway's own verifyString).
say("measuring the crypto ceiling");
const ceilingStart = { t: performance.now(), machine: machineBusySeconds(), self: process.cpuUsage() };
const ceiling = measureCeiling(signSubmit(merchants[0]!, "0".repeat(32), GATEWAY_OCID), merchants[0]!.peer.publicKeyHex, {
  ocid: GATEWAY_OCID,
  secret: parsePrivateKey(gwKey)!,
  endpoint: "http://127.0.0.1:65535/opencharge",
});
/** Orders/s if all cores did nothing but each order's two verifications and its response signature. */
const cryptoLimit = (CORES * 1000) / ceiling.crypto_cpu_ms_per_order;
const selfCpu = process.cpuUsage(ceilingStart.self);
const ceilingOthers = Math.max(0, (100 * (machineBusySeconds() - ceilingStart.machine - (selfCpu.user + selfCpu.system) / 1e6)) / ((performance.now() - ceilingStart.t) / 1000));
const maxNeed = WARMUP + Math.ceil(ceiling.ceiling_orders_per_s * 1.3 * MAX_SECONDS);
const openNeed = Math.ceil(ceiling.ceiling_orders_per_s * 0.5 * 1.3 * OPEN_SECONDS);

// 2–4. Instance A: 1k orders of history, synchronous=FULL (the default): max throughput, then the open loop.
say(`gateway A: ${SMALL} orders of history, sqliteSynchronous FULL (${gatewayCommand().label})`);
const a = await setup(SMALL, maxNeed + openNeed, "FULL");
say(`gateway A up in ${a.startupMs.toFixed(0)} ms; pre-signing ${maxNeed + openNeed} submits`);
const signT = performance.now();
const aReqs = presign(a, 0, maxNeed);
const openReqs = presign(a, maxNeed, openNeed);
const presignSeconds = (performance.now() - signT) / 1000;
say(`max throughput: K=${K} connections, ${MAX_SECONDS} s (after ${WARMUP} warm-up submits)`);
const maxFull = await maxThroughput(a, aReqs);
const rate = Math.max(1, Math.round(maxFull.per_s * 0.5));
say(`open loop: ${rate}/s (50% of max) for ${OPEN_SECONDS} s`);
const open = await openLoop(a.url, openReqs, rate, OPEN_SECONDS);
// POST /app/pay's own throughput (issue 20 item 5): K connections, closed loop, the load users in turn.
say(`POST /app/pay: K=${K} connections, ${PAY_SECONDS} s`);
// The flow user, not the load users: those own the thousands of sessions seeded for phases 3-4, and every pay counts
// the caller's pending ones against maxPendingSessions (~0.7 µs a row: 3.5 ms per pay at 5 000, not the pay's cost).
const payReqs = payCalls(a.flowUser, 40_000);
await closedLoop(a.url, payReqs.slice(0, PAY_WARMUP), K, 30);
const payCpu0 = a.cpuSeconds();
const payMax = await closedLoop(a.url, payReqs.slice(PAY_WARMUP), K, PAY_SECONDS);
const payCpuMs = (1000 * (a.cpuSeconds() - payCpu0)) / Math.max(1, payMax.ok);
const aRss = a.rssMb();
await a.stop();

// Instance B: same, synchronous=NORMAL, max throughput only.
say("gateway B: same database size, sqliteSynchronous NORMAL");
const b = await setup(SMALL, maxNeed, "NORMAL");
const maxNormal = await maxThroughput(b, presign(b, 0, maxNeed));
await b.stop();

// 5–7. Instances S (1k orders) and C (big), both up and warmed up, the sequential flow interleaved sample by sample:
// WebSocket push and confirm → webhook latencies come from S; growth compares S with C under the same conditions.
say(`gateway C: seeding ${BIG.toLocaleString("en")} orders of history (${(2 * BIG).toLocaleString("en")} ledger entries)`);
const c = await setup(BIG, FLOW_WARMUP, "FULL", t0 + SEED_DEADLINE_S * 1000);
const bigOrders = c.history;
const truncated = bigOrders < BIG ? ` — STOPPED EARLY at ${bigOrders.toLocaleString("en")} to keep the run under 3 min` : "";
say(`seeded ${bigOrders.toLocaleString("en")} orders in ${(c.seedMs / 1000).toFixed(1)} s${truncated}; up in ${c.startupMs.toFixed(0)} ms; gateway S: ${SMALL} orders`);
const sm = await setup(SMALL, FLOW_WARMUP, "FULL");
for (const gw of [sm, c]) {
  const warm = await closedLoop(gw.url, presign(gw, 0, FLOW_WARMUP), K, 30);
  if (warm.errors) throw new Error(`warm-up errors: ${warm.errorSamples.join("; ")}`);
  // POST /app/pay's code warmed up too (JIT), by a load user so the flow user's pending count stays as it is.
  const pays = await closedLoop(gw.url, payCalls(gw.users[0]!, PAY_WARMUP), 1, 30);
  if (pays.errors) throw new Error(`pay warm-up errors: ${pays.errorSamples.join("; ")}`);
}
say(`sequential flow, up to ${FLOW_SAMPLES} payments on each of S and C, interleaved: pay → submit → push → confirm → webhook`);
const flows = [await openFlow(sm, merchants), await openFlow(c, merchants)];
// A few unrecorded payments first: confirm, settlement and the webhook delivery run for the first time here.
for (let i = 0; i < FLOW_WARM_SAMPLES; i++) for (const f of flows) await f.sample();
for (const f of flows) f.reset();
for (let i = 0; i < FLOW_SAMPLES && (i < 50 || performance.now() - t0 < FLOW_DEADLINE_S * 1000); i++)
  for (const f of flows) {
    await Bun.sleep(FLOW_PAUSE_MS);
    await f.sample();
  }
const [flowSmall, flowBig] = flows.map((f) => f.result()) as [FlowResult, FlowResult];
await Promise.all([sm.stop(), c.stop()]);
// 8. Several nodes on one PostgreSQL (bench/nodes.ts): 1, 2 and 3 nodes, next to A's FULL figure.
const nodes = await measureNodes({
  privateKey: gwKey,
  merchants,
  concurrency: K,
  seconds: num("BENCH_NODES_SECONDS", 3),
  sqlite: { per_s: maxFull.per_s, from: `phase 3, FULL, K=${K}, ${MAX_SECONDS} s` },
  say,
});
await stopMerchants(merchants);

// Report.
const ratio = maxFull.per_s / ceiling.ceiling_orders_per_s;
const runSeconds = (performance.now() - t0) / 1000;
const g = (k: "submit_ms" | "confirm_ms" | "confirm_to_webhook_ms", q: "p50" | "p99") => flowBig[k][q] / flowSmall[k][q];
const growth = {
  small_orders: SMALL,
  big_orders: bigOrders,
  big_orders_asked: BIG,
  big_ledger_entries: 2 * bigOrders,
  seed_seconds: c.seedMs / 1000,
  startup_ms: { small: sm.startupMs, big: c.startupMs },
  small: { submit_ms: flowSmall.submit_ms, confirm_ms: flowSmall.confirm_ms, confirm_to_webhook_ms: flowSmall.confirm_to_webhook_ms },
  big: { submit_ms: flowBig.submit_ms, confirm_ms: flowBig.confirm_ms, confirm_to_webhook_ms: flowBig.confirm_to_webhook_ms },
  ratio_big_to_small: {
    submit_p50: g("submit_ms", "p50"),
    submit_p99: g("submit_ms", "p99"),
    confirm_p50: g("confirm_ms", "p50"),
    confirm_p99: g("confirm_ms", "p99"),
    confirm_to_webhook_p50: g("confirm_to_webhook_ms", "p50"),
  },
};
const loadRows = (r: MaxResult): Row[] => [
  ["orders/s", `${fmt.f(r.per_s)}  (${r.ok} ok in ${fmt.f(r.seconds, 2)} s)`],
  ["latency", fmt.lat(r.latency_ms)],
  ["errors", `${r.errors}${r.errors ? "  " + r.errorSamples.join(" | ") : ""}`],
  ["server CPU", `${fmt.f(r.server_cpu_pct)}% of one core, ${fmt.f(r.server_cpu_ms_per_order, 3)} ms per order`],
  ["server threads", Object.entries(r.server_thread_cpu_ms_per_order).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${fmt.f(v, 3)}`).join(", ") + " ms per order"],
  ["client CPU", `${fmt.f(r.client_cpu_pct)}% of one core (load generator)`],
  ["other processes", `${fmt.f(r.other_processes_cpu_pct)}% of one core (not the bench: noise on a shared machine)`],
  ["CPU-normalised", `${fmt.f(1000 / r.server_cpu_ms_per_order)}/s per core of server CPU (= 1000 ÷ CPU ms per order; ratio ${fmt.f(1000 / r.server_cpu_ms_per_order / ceiling.ceiling_orders_per_s, 3)})`],
  ["crypto share", `${fmt.f(r.crypto_share, 3)}  (= ${fmt.f(ceiling.crypto_cpu_ms_per_order, 3)} ms crypto ÷ ${fmt.f(r.server_cpu_ms_per_order, 3)} ms server CPU per order)`],
  ["limit fraction", `${fmt.f(r.limit_fraction, 3)}  (= ${fmt.f(r.per_s)} ÷ ${fmt.f(cryptoLimit)}/s, the ${CORES}-core crypto limit; load generator ${fmt.f(r.client_cpu_pct)}% of a core)`],
];

const results = {
  date: new Date().toISOString(),
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "?", memory_gb: Math.round(totalmem() / 2 ** 30), bun: Bun.version, platform: process.platform },
  gateway: { command: gatewayCommand().label, ocid: GATEWAY_OCID, merchants: MERCHANTS, users: USERS },
  settings: {
    rate_limits: "off (rateLimits all 0)",
    maxPendingSessions: 1_000_000,
    sessionTtl: 3600,
    concurrency: K,
    max_seconds: MAX_SECONDS,
    open_loop_seconds: OPEN_SECONDS,
    warmup_requests: WARMUP,
    flow_samples: flowSmall.samples,
    presign_seconds: presignSeconds,
  },
  ceiling: { ...ceiling, other_processes_cpu_pct: ceilingOthers },
  max: { sqliteSynchronous: "FULL", concurrency: K, ...maxFull, ratio_to_ceiling: ratio, cpu_normalised_per_s: 1000 / maxFull.server_cpu_ms_per_order },
  max_normal: {
    sqliteSynchronous: "NORMAL",
    concurrency: K,
    ...maxNormal,
    ratio_to_ceiling: maxNormal.per_s / ceiling.ceiling_orders_per_s,
    cpu_normalised_per_s: 1000 / maxNormal.server_cpu_ms_per_order,
  },
  open_loop: { offered_per_s: rate, ...open },
  websocket: { ws_after_response_ms: flowSmall.ws_after_response_ms, ws_from_send_ms: flowSmall.ws_from_send_ms },
  webhook: { confirm_ms: flowSmall.confirm_ms, confirm_to_webhook_ms: flowSmall.confirm_to_webhook_ms, ...webhookStats },
  app_pay_ms: flowSmall.pay_ms,
  app_pay_max: { concurrency: K, ...payMax, server_cpu_ms_per_pay: payCpuMs },
  growth,
  nodes,
  server_rss_mb: aRss,
  run_seconds: runSeconds,
  ratio_to_ceiling: ratio,
  crypto_cpu_ms_per_order: ceiling.crypto_cpu_ms_per_order,
  crypto_limit_orders_per_s: cryptoLimit,
  crypto_share: maxFull.crypto_share,
  limit_fraction: maxFull.limit_fraction,
};
const path = writeResults(results);

out.push(
  section("Setup", [
    ["machine", `${results.machine.cores} cores, ${results.machine.cpu}, Bun ${Bun.version}`],
    ["gateway", `${results.gateway.command}, separate process on 127.0.0.1, fresh temp data dir per instance`],
    ["rate limits", "OFF for the bench (config rateLimits perIp/perOcid/perToken/payPerUser = 0); maxPendingSessions 1000000"],
    ["peers", `${MERCHANTS} merchant peers (own keys, /metadata.json, /transfer/webhook) in the bench process`],
    ["sessions", "throughput phases: pending qr sessions seeded with bun:sqlite before start (POST /app/pay: section 4b;"],
    ["", `  per call: p50 ${fmt.f(flowSmall.pay_ms.p50, 2)} ms, it would cap setup at ~${fmt.f(1000 / flowSmall.pay_ms.p50, 0)}/s); the sequential flow uses POST /app/pay`],
    ["load generator", `one client process; all ${maxNeed + openNeed} submits pre-signed (${fmt.f(presignSeconds, 1)} s) before the window, so`],
    ["", "  the window does no crypto/JSON; Bun fetch with keep-alive; responses not re-verified in the window"],
  ]),
  section("1. Crypto ceiling (single thread, src/protocol/signatures.ts verifyString, 65-byte point)", [
    ["verify/s request string", `${fmt.f(ceiling.verify_request_per_s)}  (${ceiling.message_bytes.request} bytes)`],
    ["verify/s order string", `${fmt.f(ceiling.verify_order_per_s)}  (${ceiling.message_bytes.order} bytes)`],
    ["verify/s", fmt.f(ceiling.verify_per_s)],
    ["ceiling_orders_per_s", `${fmt.f(ceiling.ceiling_orders_per_s)}  (= verify/s ÷ 2)`],
    ["sign/s (info)", `${fmt.f(ceiling.sign_per_s)}; with the signed response per submit the ceiling is ${fmt.f(ceiling.ceiling_with_response_signing)}/s`],
    ["crypto CPU per order", `${fmt.f(ceiling.crypto_cpu_ms_per_order, 3)} ms = verify request ${fmt.f(ceiling.crypto_cpu_ms.verify_request, 3)} + verify order ${fmt.f(ceiling.crypto_cpu_ms.verify_order, 3)} + sign response ${fmt.f(ceiling.crypto_cpu_ms.sign_response, 3)} (${ceiling.message_bytes.response} bytes) ms of CPU`],
    ["crypto limit", `${fmt.f(cryptoLimit)} orders/s (= ${CORES} cores ÷ crypto CPU per order)`],
    ["other processes", `${fmt.f(ceilingOthers)}% of one core during this measurement`],
  ]),
  section(`3. Max throughput, POST /opencharge/orders/create/{id}, K=${K}, sqliteSynchronous FULL`, [
    ...loadRows(maxFull),
    ["ratio to ceiling", fmt.f(ratio, 3)],
  ]),
  section("   same, sqliteSynchronous NORMAL", [...loadRows(maxNormal), ["ratio to ceiling", fmt.f(maxNormal.per_s / ceiling.ceiling_orders_per_s, 3)]]),
  section(`4. Open loop at 50% of max: ${rate}/s offered for ${OPEN_SECONDS} s (latency from the scheduled send time)`, [
    ["completed", `${open.ok}/${open.sent}, errors ${open.errors}${open.errors ? "  " + open.errorSamples.join(" | ") : ""}`],
    ["latency", fmt.lat(open.latency_ms)],
    ["max send lag", `${fmt.f(open.max_send_lag_ms, 2)} ms`],
  ]),
  section(`4b. POST /app/pay (session + PNG QR data URL), K=${K}, closed loop ${PAY_SECONDS} s on A after ${PAY_WARMUP}`, [
    ["pays/s", `${fmt.f(payMax.per_s)}  (${payMax.ok} ok), errors ${payMax.errors}${payMax.errors ? "  " + payMax.errorSamples.join(" | ") : ""}`],
    ["latency", fmt.lat(payMax.latency_ms)],
    ["server CPU", `${fmt.f(payCpuMs, 3)} ms per pay; load generator ${fmt.f(payMax.client_cpu_pct)}% of a core`],
    ["unloaded (flow on S)", fmt.lat(flowSmall.pay_ms)],
  ]),
  section(`5. WebSocket push (${flowSmall.samples} sequential payments on S, /app/ws authenticated by first message)`, [
    ["response → payment_request", fmt.lat(flowSmall.ws_after_response_ms)],
    ["", "  (≈ 0 or negative: the hub publishes right after the commit, before the response is signed and sent)"],
    ["submit sent → payment_request", fmt.lat(flowSmall.ws_from_send_ms)],
    ["submit (unloaded)", fmt.lat(flowSmall.submit_ms)],
  ]),
  section("6. Confirm → proof at the merchant's webhook (direct settlement)", [
    ["POST /app/confirm", fmt.lat(flowSmall.confirm_ms)],
    ["confirm sent → webhook", fmt.lat(flowSmall.confirm_to_webhook_ms)],
    ["webhook requests", `${webhookStats.received} received, ${webhookStats.unauthentic} with a bad gateway signature`],
  ]),
  section(`7. Growth: S (${SMALL.toLocaleString("en")} orders) vs C (${bigOrders.toLocaleString("en")} orders, ${(2 * bigOrders).toLocaleString("en")} ledger entries); both warmed up, samples interleaved`, [
    ["seeding the big database", `${fmt.f(growth.seed_seconds)} s (bun:sqlite, one transaction, before start)${truncated}`],
    ["server start-up", `${fmt.f(sm.startupMs, 0)} ms → ${fmt.f(c.startupMs, 0)} ms`],
    ["submit", `p50 ${fmt.f(flowSmall.submit_ms.p50, 2)} → ${fmt.f(flowBig.submit_ms.p50, 2)} ms (×${fmt.f(growth.ratio_big_to_small.submit_p50, 2)}), p99 ${fmt.f(flowSmall.submit_ms.p99, 2)} → ${fmt.f(flowBig.submit_ms.p99, 2)} ms (×${fmt.f(growth.ratio_big_to_small.submit_p99, 2)})`],
    ["confirm", `p50 ${fmt.f(flowSmall.confirm_ms.p50, 2)} → ${fmt.f(flowBig.confirm_ms.p50, 2)} ms (×${fmt.f(growth.ratio_big_to_small.confirm_p50, 2)}), p99 ${fmt.f(flowSmall.confirm_ms.p99, 2)} → ${fmt.f(flowBig.confirm_ms.p99, 2)} ms (×${fmt.f(growth.ratio_big_to_small.confirm_p99, 2)})`],
    ["confirm → webhook", `p50 ${fmt.f(flowSmall.confirm_to_webhook_ms.p50, 2)} → ${fmt.f(flowBig.confirm_to_webhook_ms.p50, 2)} ms (×${fmt.f(growth.ratio_big_to_small.confirm_to_webhook_p50, 2)})`],
  ]),
  nodesSection(nodes),
  section("Run", [
    ["server RSS after A", `${fmt.f(aRss, 0)} MB`],
    ["run time", `${fmt.f(runSeconds)} s`],
    ["results", path],
  ]),
);
const noisy = Math.max(maxFull.other_processes_cpu_pct, maxNormal.other_processes_cpu_pct);
if (noisy > 25) out.push(`\nNOTE: other processes used up to ${fmt.f(noisy, 0)}% of a core during the windows; on a quiet machine orders/s would be higher.`);
console.log(out.join("\n"));
const nodeErrors = "skipped" in nodes ? 0 : nodes.postgres.reduce((s, w) => s + w.errors, 0);
const errors = maxFull.errors + maxNormal.errors + open.errors + payMax.errors + webhookStats.unauthentic + nodeErrors;
if (errors) console.log(`\nFAILED: ${errors} request errors or unauthentic webhooks (must be 0)`);
console.log(`ratio_to_ceiling=${ratio.toFixed(3)}`);
console.log(`crypto_share=${maxFull.crypto_share.toFixed(3)} limit_fraction=${maxFull.limit_fraction.toFixed(3)}`);
process.exit(errors ? 1 : 0);
