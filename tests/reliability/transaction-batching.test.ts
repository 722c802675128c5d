// Issue 20 item 3, on the real server (FULL, group commit): concurrent submits that reach the store together are
// committed as one SQLite transaction (src/store/sqlite-engine.ts), and a submit that fails inside it (a replayed
// session: SESSION_USED; an order id already active: 409) undoes only its own work: its session claim and its
// nonce are not there, its neighbours' orders are. The same burst against a gateway with
// `sqliteBatchTransactions: false` is the control: one SQLite transaction per store transaction, same answers.
//
// To make the burst reach the store together, the test holds the connection with a port transaction of its own
// while the submits arrive (their first store call, the session read, queues behind it), and verifies inline
// (verifyWorkers 0), so once the reads answer every submit's claiming transaction is asked for in the same turn.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, NO_RATE_LIMITS, type TestGateway } from "../helpers/gateway";
import { addUser, app } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";
import { fileDone, tally, waitUntil } from "./support";

type Setup = { tg: TestGateway; merchant: TestPeer };
let on: Setup;
let off: Setup;

async function setup(batch: boolean): Promise<Setup> {
  const tg = await startTestGateway({
    ocid: 200,
    rateLimits: NO_RATE_LIMITS,
    sqliteSynchronous: "FULL",
    verifyWorkers: 0,
    sqliteBatchTransactions: batch,
    maxPendingSessions: 100,
  });
  return { tg, merchant: await startMerchant(tg, 510) };
}

beforeAll(async () => {
  on = await setup(true);
  off = await setup(false);
});
afterAll(async () => {
  for (const s of [on, off]) {
    await s.merchant.stop();
    await s.tg.close();
  }
  fileDone(import.meta.path);
});

const N = 10;

/**
 * N sessions, one order each, plus a second order for session 0 (one of the two gets SESSION_USED) and an order
 * for session N that reuses order 1's id (one of the two gets 409), all submitted while the connection is held.
 */
async function burst({ tg, merchant }: Setup, tag: string) {
  const store = tg.gw.store;
  const users = Array.from({ length: N + 1 }, (_, i) => addUser(tg, `${tag}${i}`, "USD:100.00"));
  const sessions: string[] = [];
  for (const u of users) sessions.push((await app(tg, u.token, "POST", "/app/pay", {})).json.sessionId as string);
  const orders = sessions.slice(0, N).map(() => orderFor(merchant, tg, { amount: "1.00" }));
  const replay = orderFor(merchant, tg, { amount: "1.00" });
  const sameId = orderFor(merchant, tg, { amount: "1.00", id: orders[1]!.id });
  const warm = await submitOrder(merchant, tg, sessions[N]!, orderFor(merchant, tg, { amount: "9.99", expiresAt: 1 }));
  expect(warm.status).toBe(400); // the merchant's metadata cached: no fetch spreads the burst over several turns
  await Bun.sleep(50); // the scheduler's start-up passes are done before the counts are taken

  let release!: () => void;
  const held = store.transaction(() => new Promise<void>((r) => (release = r)));
  const before = store.transactionStats();
  const all = Promise.all([
    ...orders.map((o, i) => submitOrder(merchant, tg, sessions[i]!, o)),
    submitOrder(merchant, tg, sessions[0]!, replay),
    submitOrder(merchant, tg, sessions[N]!, sameId),
  ]);
  await waitUntil(
    "every submit's session read to wait for the connection",
    () => store.transactionStats().queued >= N + 2,
  );
  release();
  await held;
  const rs = await all;
  const after = store.transactionStats();
  const sum = (s: typeof after, k: "transactions" | "members") => s.write[k] + s.read[k];
  tally.tried("races", rs.length);
  for (const r of rs) tally.status("races", r.status);
  return {
    statuses: rs.map((r) => r.status),
    codes: rs.map((r) => (r.status === 200 ? null : r.json?.error?.code)),
    transactions: sum(after, "transactions") - sum(before, "transactions"),
    members: sum(after, "members") - sum(before, "members"),
    sessions,
    orders: [...orders, replay, sameId].map((o) => String(o.id)),
  };
}

const sessionStatus = (tg: TestGateway, id: string) =>
  tg.gw.db.query<{ status: string }, [string]>("SELECT status FROM sessions WHERE id = ?").get(id)!.status;
const ordersOfSession = (tg: TestGateway, id: string) =>
  tg.gw.db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM orders WHERE session_id = ?").get(id)!.n;

test("a burst of submits is committed in a few SQLite transactions; the failing ones undo only their own work", async () => {
  for (const [s, tag, batched] of [
    [on, "on", true],
    [off, "off", false],
  ] as const) {
    const b = await burst(s, tag);
    // Sessions 1..N-1 each got their order; of session 0's two orders one is refused SESSION_USED; of the two
    // orders with order 1's id one is refused 409 (which one depends on the order they reached the store in).
    expect(b.statuses.slice(2, N)).toEqual(Array(N - 2).fill(200));
    expect([b.statuses[0], b.statuses[N]].sort()).toEqual([200, 410]);
    expect([b.statuses[1], b.statuses[N + 1]].sort()).toEqual([200, 409]);
    expect(b.codes.filter(Boolean).sort()).toEqual(["ORDER_ALREADY_EXISTS", "SESSION_USED"]);
    expect(ordersOfSession(s.tg, b.sessions[0]!)).toBe(1);
    // The refused duplicate's session claim was rolled back with it: the session that lost is still open.
    const loser = b.statuses[1] === 409 ? b.sessions[1]! : b.sessions[N]!;
    expect([sessionStatus(s.tg, loser), ordersOfSession(s.tg, loser)]).toEqual(["pending", 0]);
    for (let i = 2; i < N; i++) expect(sessionStatus(s.tg, b.sessions[i]!)).toBe("used");
    // The held transaction, each submit's reads (the caller's and the session's) and claiming transaction, and a
    // few more of the route's: 41 store transactions, in 6 SQLite transactions when batched (reads 12 and 12,
    // claims 13 at once); one each when not.
    expect(b.members).toBeGreaterThanOrEqual(2 * (N + 2) + 1);
    if (batched) expect(b.transactions).toBeLessThanOrEqual(8);
    else expect(b.transactions).toBe(b.members);
  }
});
