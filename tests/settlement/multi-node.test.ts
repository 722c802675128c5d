// Issue 18 item 2: several schedulers (one per node, each a gateway of its own) on one PostgreSQL database, against
// real peer servers on loopback. No global lease: every node claims in batches; leases are on the database clock,
// renewed while a run is in flight; every write of a run is fenced by its lease; a node that dies loses its rows by
// expiry; a node id is held while its node runs. Controls show the renewal and the fence are what makes each pass.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, ConfigError, type ConfigInput } from "../../src/config";
import { buildGateway } from "../../src/compose";
import type { Gateway } from "../../src/gateway";
import { loadOrCreateKey } from "../../src/keyfile";
import { createLogger } from "../../src/log";
import type { Store } from "../../src/store";
import type { Candidate } from "../../src/domain/settlement-job";
import { FUNDING, IN_FLIGHT, userAccount } from "../../src/store/ledger";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/engine";
import { Scheduler, type SchedulerOptions } from "../../src/settlement/scheduler";
import { runSettlementJob } from "../../src/settlement/settle-job";
import { LeaseLost, RunLease } from "../../src/settlement/run-lease";
import type { JobRow } from "../../src/store/jobs";
import { startSettlementPeers, type SettlementPeers } from "../helpers/settlement-peers";
import type { TestGateway } from "../helpers/gateway";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";
import { thrown } from "../helpers/settled";

const CONFIG: ConfigInput = {
  partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
  providers: [{ ocid: 300, currencies: ["USD"] }],
  outboundTimeouts: { settlementMs: 20_000, webhookMs: 5_000 },
  outboundAllowlist: ["127.0.0.0/8"],
};
const PARTNER: Candidate = { type: "partner_reserve", via: 101 };
const DIRECT: Candidate = { type: "direct" };
const MERCHANT = 500;
/** A 3 s row lease (renewed every second) against a 6 s partner call. */
const SHORT_LEASE = 3;
const SLOW_MS = 6_000;

type Node = {
  gw: Gateway;
  store: PostgresStore;
  scheduler: Scheduler | null;
  logs: string[];
  closed: boolean;
  /** Its connections already dropped (a second close of a Bun.SQL pool would wait for ever). */
  killed?: boolean;
};

let db: TestDatabase;
let dataDir: string;
let peers: SettlementPeers;
/** Reads the books and rows for the checks, on a connection of its own (nodes come and go). */
let reader: PostgresStore;
const nodes: Node[] = [];

async function openNode(nodeId: string): Promise<Node> {
  const config = loadConfig({ env: {}, overrides: { ...CONFIG, dataDir, nodeId } });
  const store = await openPostgresStore(db.url, { max: 6 });
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line));
  // The gateway sees the store's port only; the Postgres store serves it (start-up wiring is another change).
  const gw = buildGateway({ config, key: loadOrCreateKey(config), store: store as unknown as Store, clock, log });
  for (const p of [peers.merchant, peers.partner, peers.mg, peers.provider]) await gw.directory.add(p.ocid, p.endpoint);
  const node: Node = { gw, store, scheduler: null, logs, closed: false };
  nodes.push(node);
  return node;
}

async function startScheduler(node: Node, opts: SchedulerOptions = {}): Promise<Scheduler> {
  const s = new Scheduler(node.gw, { ...node.gw.config.scheduler, concurrency: 4, ...opts });
  await s.start();
  node.scheduler = s;
  return s;
}

async function closeNode(node: Node): Promise<void> {
  if (node.closed || node.killed) return;
  node.closed = true;
  await node.scheduler?.stop().catch(() => {});
  await node.store.close({ timeout: 1 }).catch(() => {});
}

const clock = () => Math.floor(Date.now() / 1000);

let seq = 0;
/** A confirmed order with its money in flight and its settlement job due now, as the confirm flow leaves them. */
async function confirmedOrder(store: PostgresStore, prefix: string, candidate: Candidate) {
  const n = ++seq;
  const orderId = `${prefix}_${n}_${Math.random().toString(16).slice(2, 8)}`;
  const now = clock();
  return store.transaction(async (tx) => {
    const { user } = await tx.users.create(`mn-${orderId}`, now);
    await tx.ledger.move({ from: FUNDING, to: userAccount(user.id), currency: "USD", amount: 2500n, reason: "funding", now });
    const sessionId = n.toString(16).padStart(32, "0");
    await tx.sessions.insert({ id: sessionId, kind: "checkout", userId: null, status: "pending", createdAt: now, expiresAt: now + 600 });
    const row = await tx.orders.insert({
      sessionId,
      callerOcid: MERCHANT,
      merchantOcid: MERCHANT,
      orderId,
      orderJson: JSON.stringify({ id: orderId }),
      signature: "sig",
      sigForm: "deep",
      urlsJson: "{}",
      amount: "25.00",
      amountMinor: 2500n,
      currency: "USD",
      userId: null,
      confirmDeadline: now + 600,
      candidates: [candidate],
      now,
    });
    await tx.orders.move(row, { event: "confirm", userId: user.id }, now);
    await tx.ledger.move({ from: userAccount(user.id), to: IN_FLIGHT, currency: "USD", amount: 2500n, reason: "confirm", orderId: row, now });
    const jobId = await tx.jobs.enqueueSettlement(row, [candidate], now, now + 3600);
    return { orderId, row, jobId };
  });
}

const orderStatus = (row: number) => reader.read(async (tx) => (await tx.orders.byId(row))?.status);
const partnerCalls = (orderId: string) => peers.partner.received.filter((r) => r.json?.order?.id === orderId).length;

async function until(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    for (const n of nodes) if (!n.closed) n.scheduler?.wake();
    await Bun.sleep(20);
  }
  throw new Error("condition not reached");
}

async function booksBalanced(): Promise<void> {
  const check = await reader.read((tx) => tx.ledger.checkBalances());
  expect(check).toMatchObject({ ok: true });
}

const sleepThenPerform = (prefix: string, ms: number) => async (req: { json?: any }) => {
  if (String(req.json?.order?.id ?? "").startsWith(prefix)) await Bun.sleep(ms);
  return null;
};

describe.skipIf(!postgresAvailable("multi-node.test.ts"))("several schedulers on one PostgreSQL database", () => {
  beforeAll(async () => {
    db = await freshDatabase("multinode");
    reader = await openPostgresStore(db.url, { max: 2 });
    dataDir = mkdtempSync(join(tmpdir(), "oc-multinode-"));
    // The peers only need the gateway's OCID, key and directory; every node shares them.
    const config = loadConfig({ env: {}, overrides: { ...CONFIG, dataDir } });
    const key = loadOrCreateKey(config);
    const directory = { add: async () => {} };
    peers = await startSettlementPeers({ gw: { config, key, directory } } as unknown as TestGateway);
    // Slow partner transfers, longer than the short leases below: the reply comes after the work is done.
    peers.partnerTransfer.override(sleepThenPerform("slow", SLOW_MS));
  });
  // A failed test leaves no scheduler behind to take the next test's rows.
  afterEach(async () => {
    for (const n of nodes) await closeNode(n);
  });
  afterAll(async () => {
    await peers?.stop();
    await reader?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("three nodes race over many due jobs and deliveries: each value-moving call once, each delivery once", async () => {
    const trio = [await openNode("race-a"), await openNode("race-b"), await openNode("race-c")];
    for (const n of trio) await startScheduler(n);
    const made = await Promise.all(
      Array.from({ length: 36 }, (_, i) => confirmedOrder(trio[i % 3]!.store, "race", i % 2 ? PARTNER : DIRECT)),
    );
    // Committed behind the schedulers' backs (another node's confirm): every node is woken, all race to claim.
    for (const n of trio) n.scheduler!.wake();
    await until(async () => (await Promise.all(made.map((m) => orderStatus(m.row)))).every((s) => s === "paid"));
    const direct = made.filter((_, i) => i % 2 === 0);
    const txids = await reader.read(async (tx) =>
      Promise.all(direct.map(async (m) => (await tx.orders.byId(m.row))!.finalTxid)),
    );
    const delivered = async () =>
      (await reader.read((tx) => tx.deliveries.list("delivered"))).filter((d) => txids.includes(d.txid));
    await until(async () => (await delivered()).length === txids.length);
    for (const m of made.filter((_, i) => i % 2 === 1)) expect(partnerCalls(m.orderId)).toBe(1);
    for (const t of txids) expect(peers.webhookLog.filter((w) => w.proof.txid === t)).toHaveLength(1);
    expect((await delivered()).map((d) => d.attempts)).toEqual(txids.map(() => 1));
    await booksBalanced();
    for (const n of trio) await closeNode(n);
  }, 60_000);

  test("a run longer than its lease keeps its row by renewal; without renewal another node takes it (control)", async () => {
    // The first node renews or not; the second always does (two nodes without renewal would take a 6 s run from
    // each other every 3 s for ever).
    const runs = async (label: string, renew: boolean) => {
      const pair = [await openNode(`${label}-a`), await openNode(`${label}-b`)];
      await startScheduler(pair[0]!, { jobLeaseSeconds: SHORT_LEASE, renew });
      const m = await confirmedOrder(pair[0]!.store, `slow${label}`, PARTNER);
      pair[0]!.scheduler!.wake();
      await until(async () => partnerCalls(m.orderId) === 1);
      await startScheduler(pair[1]!, { jobLeaseSeconds: SHORT_LEASE });
      await until(async () => (await orderStatus(m.row)) === "paid");
      for (const n of pair) expect(n.logs.filter((l) => l.includes("settlement work failed"))).toEqual([]);
      const lost = pair[0]!.logs.some((l) => l.includes("lease lost"));
      const calls = partnerCalls(m.orderId);
      for (const n of pair) await closeNode(n);
      return { calls, lost };
    };
    expect(await runs("renewed", true)).toEqual({ calls: 1, lost: false });
    // Control: the same run without renewal loses its row to the other node, which calls the partner again; the
    // first run's late write is fenced off (lease lost), so the order is still paid once.
    expect(await runs("unrenewed", false)).toEqual({ calls: 2, lost: true });
    await booksBalanced();
  }, 60_000);

  test("a stalled node's writes after losing its lease change nothing; the node that took the row finishes", async () => {
    const [a, b] = [await openNode("stall-a"), await openNode("stall-b")];
    const m = await confirmedOrder(a.store, "stall", PARTNER);
    const owners = { a: "stall-a:x:1", b: "stall-b:x:1" };
    // A claims with a 1 s lease and stalls (its run starts only after B has taken the row).
    const [job] = (await a.store.transaction((tx) => tx.leases.claim("jobs", owners.a, clock() + 1, clock(), 1))) as JobRow[];
    expect(job!.id).toBe(m.jobId);
    let taken: JobRow[] = [];
    await until(async () => {
      taken = (await b.store.transaction((tx) => tx.leases.claim("jobs", owners.b, clock() + 60, clock(), 1))) as JobRow[];
      return taken.length === 1;
    }, 10_000);
    const snapshot = () =>
      a.store.read(async (tx) => ({
        order: await tx.orders.byId(m.row),
        job: await tx.jobs.byId(m.jobId),
        inFlight: await tx.ledger.balance(IN_FLIGHT, "USD"),
      }));
    const before = await snapshot();
    const stalled = await runSettlementJob(a.gw, job!, new RunLease("jobs", job!.id, owners.a)).catch((e) => e);
    expect(stalled).toBeInstanceOf(LeaseLost);
    expect(await snapshot()).toEqual(before);
    // Control: the guard is the lease in the WHERE clause; the very same write by the holder goes through.
    const owned = await runSettlementJob(b.gw, taken[0]!, new RunLease("jobs", m.jobId, owners.b));
    expect(owned).toBe("paid");
    expect(await orderStatus(m.row)).toBe("paid");
    await booksBalanced();
    for (const n of [a, b]) await closeNode(n);
  }, 30_000);

  test("a node whose id lock dropped takes it back when free, and stops claiming once another node took it", async () => {
    const lockOf = (id: string) =>
      db.sql`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
               AND classid::bigint = ${0x6f636e64} AND objid::bigint = (hashtext(${id})::bigint & 4294967295)`;
    const dropLock = async (id: string) => {
      const [{ pid }] = await lockOf(id);
      await db.sql`SELECT pg_terminate_backend(${pid}::int)`;
      await until(async () => (await lockOf(id)).length === 0);
    };
    const first = await openNode("hold-a");
    const s = await startScheduler(first, {});
    await dropLock("hold-a");
    expect(await s.checkHold()).toBe(true); // nobody took it: taken back
    expect((await lockOf("hold-a")).length).toBe(1);
    expect(s.alive).toBe(true);

    await dropLock("hold-a");
    const second = await openNode("hold-a");
    await startScheduler(second, {}); // the id is free, so a second process gets it
    expect(await s.checkHold()).toBe(false);
    expect(s.alive).toBe(false);
    expect(first.logs.some((l) => l.includes("node id taken by another gateway"))).toBe(true);
    // Halted (it claims nothing more); the node now holding the id carries on.
    const m = await confirmedOrder(second.store, "afterhold", DIRECT);
    await until(async () => (await orderStatus(m.row)) === "paid");
    await booksBalanced();
    for (const n of [first, second]) await closeNode(n);
  }, 60_000);

  test("a killed node's rows are taken by another after expiry; a node id is held while its node runs", async () => {
    const killed = await openNode("kill-a");
    await startScheduler(killed, { jobLeaseSeconds: SHORT_LEASE });
    const m = await confirmedOrder(killed.store, "slowkill", PARTNER);
    killed.scheduler!.wake();
    await until(async () => partnerCalls(m.orderId) === 1);
    // Killed: its loop and renewals stop where they are and its connections go (its advisory lock with them);
    // nothing is given up.
    killed.killed = true;
    killed.scheduler!.halt();
    void killed.store.close({ timeout: 0 }).catch(() => {});
    const survivor = await openNode("kill-b");
    await startScheduler(survivor, { jobLeaseSeconds: SHORT_LEASE });
    await until(async () => (await orderStatus(m.row)) === "paid");
    expect(partnerCalls(m.orderId)).toBe(2);
    await booksBalanced();

    // The id of a live node is refused to a second one; free again once that node stops; a restart under it gives
    // up the previous incarnation's leases at once (rows claimed for 10 minutes are due again immediately).
    const twin = await openNode("kill-b");
    expect(await thrown(startScheduler(twin, {}))).toThrow(ConfigError);
    await survivor.scheduler!.stop();
    const leftover = await confirmedOrder(survivor.store, "leftover", DIRECT);
    const [held] = (await survivor.store.transaction((tx) =>
      tx.leases.claim("jobs", "kill-b:previous:1", clock() + 600, clock(), 5),
    )) as JobRow[];
    expect(held?.id).toBe(leftover.jobId);
    const other = await openNode("kill-c");
    await startScheduler(other, {});
    // Control: another node id does not release them (they stay leased to kill-b's previous incarnation).
    expect(await other.store.read(async (tx) => (await tx.jobs.byId(leftover.jobId))?.leaseOwner)).toBe("kill-b:previous:1");
    await startScheduler(twin, {});
    await until(async () => (await orderStatus(leftover.row)) === "paid");
    await booksBalanced();
    for (const n of [survivor, twin, other]) await closeNode(n);
  }, 60_000);
});
