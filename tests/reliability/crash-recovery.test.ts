// Issue 9 §2 — crash recovery: the real gateway as a separate process (`bun src/main.ts serve`), SIGKILLed at
// seeded-random moments during a stream of submits, confirms and settlements over all three strategies, and
// restarted on the same data dir each time. Afterwards our books and the peers' books must agree to the cent.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { NO_RATE_LIMITS, testEngine } from "../helpers/gateway";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";
import { dbBalance, dbRow, dbRows } from "../helpers/inspect";
import { appAt } from "../helpers/wallet";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { makeOrder } from "../peers/kit";
import { startCrashPeers } from "./crash-peers";
import { fileDone, findSecrets, ledgerSums, prng, suiteSeed, tally, waitUntil } from "./support";

const KILLS = Number(process.env.OC_CRASH_KILLS ?? 10);
const WORKERS = 4;
const USERS = 4;
const REPO = resolve(import.meta.dir, "../..");

const seed = suiteSeed("crash-recovery");
const rnd = prng(seed);
const peerDelay = prng(seed ^ 0x5bd1e995);

let dir: string;
let configPath: string;
/** The gateway's database, read from the test's own connection (helpers/inspect.ts): the SQLite file or PostgreSQL. */
let books: { dataDir: string; gw: { config: { databaseUrl?: string } } };
/** On PostgreSQL (OC_TEST_ENGINE=postgres) a fresh database for this file, which every process is told. */
let pg: TestDatabase | null = null;
const engineEnv = (): Record<string, string> => (pg ? { OC_DATABASE_URL: pg.url } : {});
let ports: number[] = [];
let current = 0;
let gatewayKeyHex: string;
let peers: Awaited<ReturnType<typeof startCrashPeers>>;
let proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
const logChunks: Promise<string>[] = [];
const cliStderr: string[] = [];
const users: { name: string; id: string; token: string }[] = [];
let base: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, OC_CONFIG: configPath, ...engineEnv() };
  const p = Bun.spawn(["bun", "src/main.ts", ...args], { cwd: REPO, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  cliStderr.push(err);
  return { code, out, err };
}

/** Starts `serve` on `port` (OC_PORT overrides the config file) and points the clients at it once it listens. */
async function startServe(port = ports[current]!): Promise<void> {
  const p = Bun.spawn(["bun", "src/main.ts", "serve"], {
    cwd: REPO,
    env: { ...process.env, OC_CONFIG: configPath, OC_PORT: String(port), ...engineEnv() },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  logChunks.push(new Response(p.stdout).text(), new Response(p.stderr).text());
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    "the gateway to listen",
    async () => {
      try {
        return (await fetch(`${url}/opencharge/metadata.json`)).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
    20,
  );
  proc = p;
  base = url;
}

/** A `serve` on the data dir while another process serves it: its exit code (it must exit by itself within 5 s). */
async function refusedServe(port = ports[current]!): Promise<number | null> {
  const p = Bun.spawn(["bun", "src/main.ts", "serve"], {
    cwd: REPO,
    env: { ...process.env, OC_CONFIG: configPath, OC_PORT: String(port), ...engineEnv() },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

async function kill(p = proc): Promise<void> {
  if (!p) return;
  p.kill("SIGKILL");
  await p.exited; // reaped: the scheduler of the next process sees a dead owner, not a zombie
  if (proc === p) proc = null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "oc-crash-"));
  configPath = join(dir, "config.json");
  if (testEngine() === "postgres") pg = await freshDatabase("crash");
  books = { dataDir: join(dir, "data"), gw: { config: { databaseUrl: pg?.url } } };
  for (let i = 0; i < 2; i++) {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    ports.push(probe.port!);
    probe.stop(true);
  }
  base = `http://127.0.0.1:${ports[0]}`;
  const config: Record<string, unknown> = {
    ocid: 200,
    host: "127.0.0.1",
    port: ports[0],
    dataDir: join(dir, "data"),
    outboundAllowlist: ["127.0.0.0/8"],
    partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
    providers: [{ ocid: 300, currencies: ["USD"] }],
    rateLimits: NO_RATE_LIMITS,
    maxPendingSessions: 10_000,
    scheduler: { leaseSeconds: 3, jobLeaseSeconds: 3 },
    outboundTimeouts: { settlementMs: 3000, webhookMs: 3000 },
    logLevel: "debug",
  };
  writeFileSync(configPath, JSON.stringify(config));
  const init = await cli("init");
  expect(init.code).toBe(0);
  // The processes really are on the engine under test: on PostgreSQL no SQLite file is ever made.
  expect(existsSync(join(dir, "data", "gateway.sqlite"))).toBe(pg === null);
  gatewayKeyHex = readFileSync(join(dir, "data", "gateway.key"), "utf8").trim();
  const pub = /public key: ([0-9a-f]{128})/.exec(init.out)![1]!;
  peers = await startCrashPeers(200, pub, () => (peerDelay.chance(0.5) ? peerDelay.int(0, 120) : 0));
  config.directory = { "500": peers.merchant.endpoint, "101": peers.partner.endpoint, "102": peers.mg.endpoint, "300": peers.provider.endpoint };
  writeFileSync(configPath, JSON.stringify(config));
  for (let i = 0; i < USERS; i++) {
    const r = await cli("users", "add", `crash${i}`, "--credit", "USD:100000.00");
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    const id = /\(user_([a-z0-9]+)\)/.exec(r.out)![1]!;
    users.push({ name: `crash${i}`, id, token: lines[lines.length - 1]!.trim() });
  }
  await startServe();
}, 60_000);

afterAll(async () => {
  if (proc) await kill();
  await peers?.stop();
  const logs = (await Promise.all(logChunks)).join("\n").split("\n").concat(cliStderr.join("\n").split("\n")).filter(Boolean);
  const secrets = [{ label: "gateway.key", value: gatewayKeyHex }, ...users.map((u) => ({ label: `token of ${u.name}`, value: u.token }))];
  if (pg) secrets.push({ label: "database URL", value: pg.url });
  const leaks = findSecrets(logs, secrets);
  const broken = logs.filter((l) => /LEDGER INVARIANT BROKEN|unhandled error/.test(l));
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
  fileDone(import.meta.path);
  expect(leaks).toEqual([]);
  expect(broken).toEqual([]);
});

/** Retries while the gateway is down; any HTTP answer is returned (a 500 is counted, never retried away). */
async function persist<T extends { status: number }>(what: string, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fn();
      tally.status("kills", r.status);
      return r;
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: gateway unreachable for 30 s (${String(e)})`);
      await Bun.sleep(25);
    }
  }
}

const appCall = (token: string, method: string, path: string, body?: unknown) => appAt(base, token, method, path, body);

type Strategy = "direct" | "partner" | "third_party" | "refused" | "fallback" | "checkout";
const ACCEPTS: Record<Strategy, number[]> = { direct: [200], partner: [101], third_party: [102], refused: [101], fallback: [101, 102], checkout: [102] };
type Placed = { user: number; sessionId: string; orderId: string; amount: string; strategy: Strategy; confirmAnswer: string };

test(`SIGKILL ×${KILLS} during confirms and settlements (direct, partner reserve via 101, third party via 102, hosted checkout): nothing lost, nothing twice`, async () => {
  const placed: Placed[] = [];
  const unexpected: string[] = [];
  let stop = false;

  async function oneOrder(w: number, n: number): Promise<void> {
    const u = rnd.int(0, USERS - 1);
    const strategy = rnd.pick<Strategy>(["direct", "partner", "third_party", "direct", "partner", "third_party", "refused", "fallback", "checkout"]);
    const token = users[u]!.token;
    const id = `${strategy === "refused" || strategy === "fallback" ? "refuse_" : "ord_"}${w}_${n}_${rnd.int(0, 1e9).toString(36)}`;
    const amount = `${rnd.int(1, 20)}.${String(rnd.int(0, 99)).padStart(2, "0")}`;
    const order = makeOrder(500, { id, amount, accepts: ACCEPTS[strategy] });
    const signature = peers.merchant.signOrder(order);
    let sessionId: string;
    if (strategy === "checkout") {
      // Hosted checkout: the merchant gateway opens it, our user pays it, the MG is credited (§12.9).
      const co = await persist("checkout", () => peers.mg.call(base, "POST", "/opencharge/checkout/create", { order, signature, merchantOcid: 500, urls: {} }));
      // 409 after a retry: the first attempt committed but its answer (the session id) died with the process.
      if (co.status === 409 && co.json?.error?.code === "ORDER_ALREADY_EXISTS") return void placed.push({ user: u, sessionId: "?", orderId: id, amount, strategy, confirmAnswer: "not confirmed" });
      if (co.status !== 200) return void unexpected.push(`checkout → ${co.status} ${co.text}`);
      sessionId = co.json.session_id as string;
    } else {
      const pay = await persist("pay", () => appCall(token, "POST", "/app/pay", {}));
      if (pay.status !== 200) return void unexpected.push(`pay → ${pay.status} ${pay.text}`);
      sessionId = pay.json.sessionId as string;
      const sub = await persist("submit", () =>
        peers.merchant.call(base, "POST", `/opencharge/orders/create/${sessionId}`, { order, signature, urls: { order: [`https://shop.example/o/${id}`] } }),
      );
      // 410 after a retry = our first attempt committed but its answer died with the process.
      if (sub.status !== 200 && !(sub.status === 410 && sub.json?.error?.code === "SESSION_USED")) return void unexpected.push(`submit → ${sub.status} ${sub.text}`);
    }
    if (rnd.chance(0.1)) return void placed.push({ user: u, sessionId, orderId: id, amount, strategy, confirmAnswer: "not confirmed" });
    const c = await persist("confirm", () => appCall(token, "POST", `/app/confirm/${sessionId}`, {}));
    // A retried confirm may find the order already settled or already failed (refused path): both are answers.
    const answer = c.status === 200 ? c.json.status : `${c.status} ${c.json?.error?.code} ${c.json?.error?.details?.status ?? ""}`.trim();
    if (c.status !== 200 && !(c.status === 409 && ["failed", "paid"].includes(c.json?.error?.details?.status)))
      unexpected.push(`confirm → ${c.status} ${c.text}`);
    placed.push({ user: u, sessionId, orderId: id, amount, strategy, confirmAnswer: answer });
  }

  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let n = 0; !stop; n++) await oneOrder(w, n);
  });
  let kills = 0;
  let killsMidSettlement = 0;
  let overlaps = 0;
  const killer = (async () => {
    for (let k = 0; k < KILLS; k++) {
      await Bun.sleep(rnd.int(150, 1200));
      // Was settlement under way at that instant (a job or delivery claimed by the process we are about to kill)?
      const busy = (await dbRow<{ n: number }>(
        books,
        "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending') + (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS n",
      ))!.n;
      const old = proc!;
      current ^= 1; // alternate ports, so a successor can start while its predecessor still runs
      if (rnd.chance(0.3)) {
        // Overlap (a rolling restart attempt): one instance per data dir, so the successor is refused (exit 75)
        // while the predecessor serves and touches nothing; then the predecessor is killed mid-work as usual.
        expect(await refusedServe()).toBe(75);
        await kill(old);
        await startServe();
        overlaps++;
      } else {
        await kill(old);
        if (rnd.chance(0.3)) await Bun.sleep(rnd.int(10, 300)); // stay down a little: clients retry into the void
        await startServe();
      }
      if (busy > 0) killsMidSettlement++;
      kills++;
    }
  })();
  try {
    await killer;
  } finally {
    stop = true;
    await Promise.all(workers);
  }

  // After the last restart: wait until settlement has nothing left to do.
  const one = async (sql: string) => (await dbRow<{ n: number }>(books, sql))!.n;
  await waitUntil(
    "settlement and deliveries to finish",
    async () =>
      (await one("SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending'")) === 0 &&
      (await one("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'")) === 0 &&
      (await one("SELECT COUNT(*) AS n FROM orders WHERE status = 'confirmed'")) === 0,
    45_000,
    100,
  );
  const leasedJobs = await one("SELECT COUNT(*) AS n FROM jobs WHERE state = 'pending' AND lease_owner IS NOT NULL");
  // One more crash for good measure, then read the books with the process gone.
  await kill();

  type Row = { id: number; order_id: string; user_id: string; status: string; amount: string; amount_minor: number; final_txid: string | null; settlement_type: string | null };
  const orders = await dbRows<Row>(books, "SELECT id, order_id, user_id, status, amount, amount_minor, final_txid, settlement_type FROM orders");
  const moves = async (reason: string) => {
    const m = new Map<number, number>();
    const q = "SELECT order_id, COUNT(DISTINCT movement_id) AS n FROM ledger_entries WHERE reason = ? GROUP BY order_id";
    for (const r of await dbRows<{ order_id: number; n: number }>(books, q, reason)) m.set(r.order_id, r.n);
    return m;
  };
  const confirmMoves = await moves("confirm");
  const refundMoves = await moves("refund");
  const settledMoves = new Map<number, number>();
  for (const reason of ["settled_direct", "settled_partner_reserve", "settled_common_third_party", "settled_checkout"])
    for (const [k, v] of await moves(reason)) settledMoves.set(k, (settledMoves.get(k) ?? 0) + v);
  const byOrderRef = <T extends { orderRef: string; txid: string }>(xs: T[]) => {
    const m = new Map<string, Set<string>>();
    for (const x of xs) m.set(x.orderRef, (m.get(x.orderRef) ?? new Set()).add(x.txid));
    return m;
  };
  const merchantSide = new Map<string, Set<string>>();
  for (const src of [byOrderRef(peers.books.merchantReceived), byOrderRef(peers.books.partnerMoves), byOrderRef(peers.books.mgFinals), byOrderRef(peers.books.mgReceived)])
    for (const [k, v] of src) merchantSide.set(k, new Set([...(merchantSide.get(k) ?? []), ...v]));
  const providerByOrder = byOrderRef(peers.books.providerMoves);

  const problems: string[] = [];
  let lost = 0;
  let duplicated = 0;
  for (const o of orders) {
    const confirmed = confirmMoves.get(o.id) ?? 0;
    const got = merchantSide.get(o.order_id) ?? new Set<string>();
    if (confirmed > 1) (duplicated++, problems.push(`${o.order_id}: debited ${confirmed} times`));
    if (confirmed === 0) {
      if (!["awaiting_confirmation", "expired", "declined"].includes(o.status)) problems.push(`${o.order_id}: ${o.status} without a debit`);
      if (got.size) (duplicated++, problems.push(`${o.order_id}: merchant side paid without a debit`));
      continue;
    }
    if (o.status === "paid") {
      if (settledMoves.get(o.id) !== 1) problems.push(`${o.order_id}: paid with ${settledMoves.get(o.id) ?? 0} settlement movements`);
      if (got.size === 0) (lost++, problems.push(`${o.order_id}: paid but the merchant side never got a proof`));
      if (got.size > 1) (duplicated++, problems.push(`${o.order_id}: ${got.size} different txids reached the merchant side`));
      if (got.size === 1 && !got.has(o.final_txid!)) problems.push(`${o.order_id}: merchant's txid is not our final txid`);
      if ((providerByOrder.get(o.order_id)?.size ?? 0) > 1) (duplicated++, problems.push(`${o.order_id}: provider moved money twice`));
    } else if (o.status === "failed") {
      if (refundMoves.get(o.id) !== 1) (lost++, problems.push(`${o.order_id}: failed with ${refundMoves.get(o.id) ?? 0} refunds`));
      if (got.size || providerByOrder.has(o.order_id)) (duplicated++, problems.push(`${o.order_id}: refunded although value moved at a peer`));
    } else problems.push(`${o.order_id}: confirmed order ended ${o.status}`);
  }
  // The client's view: every confirm that was answered 200 is an order that is now paid or failed-and-refunded.
  const byId = new Map(orders.map((o) => [o.order_id, o]));
  for (const p of placed) {
    const o = byId.get(p.orderId);
    if (!o && p.confirmAnswer !== "not confirmed") (lost++, problems.push(`${p.orderId}: confirmed (${p.confirmAnswer}) but no order record`));
    if (o && ["confirmed", "paid"].includes(p.confirmAnswer) && !["paid", "failed"].includes(o.status)) problems.push(`${p.orderId}: answered ${p.confirmAnswer}, ended ${o.status}`);
    if (o && p.strategy === "refused" && o.status === "paid") problems.push(`${p.orderId}: refused everywhere but paid`);
  }
  // The peers' books against ours, to the cent.
  const balances = new Map<string, bigint>();
  for (const account of ["external:101", "external:300", "peer:500", "peer:102", "settlement_in_flight", ...users.map((u) => `user:${u.id}`)])
    balances.set(account, await dbBalance(books, account, "USD"));
  const bal = (account: string) => balances.get(account)!;
  const sum = (xs: { amount: string }[]) => xs.reduce((s, x) => s + BigInt(x.amount.replace(".", "")), 0n);
  const directTxids = new Map(peers.books.merchantReceived.map((r) => [r.txid, r]));
  expect(bal("external:101")).toBe(sum(peers.books.partnerMoves));
  expect(bal("external:300")).toBe(sum(peers.books.providerMoves));
  expect(bal("peer:500")).toBe(sum([...directTxids.values()]));
  expect(bal("peer:102")).toBe(sum([...new Map(peers.books.mgReceived.map((r) => [r.txid, r])).values()]));
  expect(bal("settlement_in_flight")).toBe(0n);
  for (const [i, u] of users.entries()) {
    const paid = orders.filter((o) => o.user_id === u.id && o.status === "paid").reduce((s, o) => s + BigInt(o.amount_minor), 0n);
    expect(`user ${i}: ${bal(`user:${u.id}`)}`).toBe(`user ${i}: ${10_000_000n - paid}`);
  }
  const keys = (xs: { key: string }[]) => xs.length - new Set(xs.map((x) => x.key)).size;
  expect(keys(peers.books.partnerMoves) + keys(peers.books.providerMoves)).toBe(0);
  for (const { currency, s } of await ledgerSums(books)) expect(`${currency} ${s}`).toBe(`${currency} 0`);
  const mismatched = await one(
    "SELECT COUNT(*) AS n FROM accounts a WHERE a.balance <> (SELECT COALESCE(SUM(delta), 0) FROM ledger_entries e WHERE e.account = a.account AND e.currency = a.currency)",
  );
  const stats = (await dbRows<{ status: string; n: number }>(books, "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status"))
    .map((r) => `${r.status} ${r.n}`)
    .join(", ");
  const anomalies = await dbRows<{ kind: string; n: number }>(books, "SELECT kind, COUNT(*) AS n FROM anomalies GROUP BY kind");

  tally.tried("kills", kills);
  tally.lost("kills", lost);
  tally.duplicated("kills", duplicated);
  tally.note(
    "kills",
    `seed ${seed}: ${killsMidSettlement} of ${kills} kills hit with settlement work pending, ${overlaps} after a second serve was refused; ${placed.length} orders (${stats}); peers moved: partner ${peers.books.partnerMoves.length}, provider ${peers.books.providerMoves.length}, ` +
      `merchant proofs ${directTxids.size} (deliveries ${peers.books.merchantReceived.length}), MG finals ${peers.books.mgFinals.length}, ` +
      `checkout proofs at the MG ${new Set(peers.books.mgReceived.map((r) => r.txid)).size} (deliveries ${peers.books.mgReceived.length})`,
  );
  expect(unexpected).toEqual([]);
  expect(problems).toEqual([]);
  expect({ leasedJobs, mismatched, refusedPeerRequests: peers.books.refusedRequests }).toEqual({ leasedJobs: 0, mismatched: 0, refusedPeerRequests: 0 });
  expect(anomalies.filter((a) => a.kind === "unresolved_settlement" || a.kind === "proof_reused")).toEqual([]);
  expect(kills).toBe(KILLS);
  expect(placed.filter((p) => p.confirmAnswer !== "not confirmed").length).toBeGreaterThan(KILLS);
}, 180_000);
