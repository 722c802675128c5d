// Issue 20 item 3: group commit for sqliteSynchronous FULL (src/store/durability.ts). Two halves:
// 1. In process, the fsync is held shut by the test: a commit that is already in the database (visible) must not be
//    acknowledged by anything — the HTTP response that made it, a read-only response that could reveal it, the
//    WebSocket push, the confirm's webhook to the merchant — until its fsync completes; and concurrent commits share
//    fsyncs. This is the power-loss property: nothing leaves the process before the -wal is on disk. The one answer
//    let out first is a fresh pay code: a submit to it still waits for the fsync that covers the code too.
// 2. A real gateway process (FULL, group commit on) SIGKILLed in the middle of concurrent pay → submit → confirm
//    loops and restarted: every submit and confirm it acknowledged is in the database. (A SIGKILL keeps the page
//    cache, so this half proves recovery and bookkeeping on the group-commit path; half 1 proves the fsync order.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, NO_RATE_LIMITS, type TestGateway } from "../helpers/gateway";
import { addUser, app, appAt, WsClient } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { groupCommitOf, type GroupCommit } from "../../src/store/durability";
import { ProcessGateway } from "../helpers/gateway-process";
import { TestPeer, makeOrder } from "../peers/kit";
import { waitUntil } from "./support";

let tg: TestGateway;
let merchant: TestPeer;
let gc: GroupCommit;
/** While `gate` is set every fsync waits for it; `syncCalls` counts the fsyncs asked for. */
let gate: { promise: Promise<void>; open: () => void } | null = null;
let syncCalls = 0;
const webhooks: string[] = [];

function closeGate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  gate = { promise, open: () => ((gate = null), open()) };
}

beforeAll(async () => {
  tg = await startTestGateway({ ocid: 200, rateLimits: NO_RATE_LIMITS, sqliteSynchronous: "FULL" });
  merchant = await startMerchant(tg, 510);
  merchant.route("POST", "/transfer/webhook", (req) => {
    webhooks.push(String(req.json?.proof?.to?.reference ?? ""));
    return { body: { status: "accepted", txid: req.json?.proof?.txid } };
  });
  gc = groupCommitOf(tg.gw.db)!;
  const real = (gc as unknown as { sync: (p: string) => Promise<void> }).sync;
  (gc as unknown as { sync: (p: string) => Promise<void> }).sync = async (p) => {
    syncCalls++;
    if (gate) await gate.promise;
    return real(p);
  };
});
afterAll(async () => {
  gate?.open();
  await merchant.stop();
  await tg.close();
});

const orderRow = (orderId: string) =>
  tg.gw.db.query<{ status: string }, [string]>("SELECT status FROM orders WHERE order_id = ? AND merchant_ocid = 510").get(orderId);

test("FULL while serving is group commit: the connection runs synchronous=NORMAL and the barrier is registered", () => {
  expect(gc).toBeDefined();
  expect(tg.gw.db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous).toBe(1);
});

test("nothing acknowledges a commit before its fsync: submit response, a read of it, the push, the confirm and its webhook", async () => {
  const { token } = addUser(tg, "gail", "USD:100.00");
  const ws = await WsClient.open(tg, { token });
  const pay = await app(tg, token, "POST", "/app/pay", {});
  expect(pay.status).toBe(200);
  const sessionId = pay.json.sessionId as string;
  const order = orderFor(merchant, tg, { amount: "4.00" });

  closeGate();
  const asked = syncCalls;
  let answered = false;
  const submit = submitOrder(merchant, tg, sessionId, order).then((r) => ((answered = true), r));
  await waitUntil("the submit to commit", () => orderRow(order.id as string)?.status === "awaiting_confirmation");
  let viewed = false;
  const view = app(tg, token, "GET", `/app/sessions/${sessionId}`).then((r) => ((viewed = true), r));
  await waitUntil("the fsync to be asked for", () => gc.pending() && syncCalls > asked);
  await Bun.sleep(50); // a broken barrier would answer within this; a correct one never does while the gate is shut
  expect({ answered, viewed, pushed: ws.messages.some((m) => m.type === "payment_request") }).toEqual({ answered: false, viewed: false, pushed: false });
  gate!.open();
  const r = await submit;
  expect(r.status).toBe(200);
  expect(r.responseSignatureValid).toBe(true);
  expect((await view).json.sessionStatus).toBe("used");
  await ws.next((m) => m.type === "payment_request" && m.sessionId === sessionId);

  closeGate();
  let confirmed = false;
  const confirm = app(tg, token, "POST", `/app/confirm/${sessionId}`, {}).then((c) => ((confirmed = true), c));
  await waitUntil("the confirm to commit", () => orderRow(order.id as string)?.status !== "awaiting_confirmation");
  await Bun.sleep(50);
  expect({ confirmed, webhook: webhooks.includes(order.id as string) }).toEqual({ confirmed: false, webhook: false });
  gate!.open();
  expect((await confirm).json.status).toBe("confirmed");
  await waitUntil("the proof at the merchant's webhook", () => webhooks.includes(order.id as string), 10_000);
  ws.close();
});

test("a pay code is answered before its fsync completes; a submit to it waits for the fsync that covers both", async () => {
  const { token } = addUser(tg, "hal", "USD:100.00");
  closeGate();
  try {
    const asked = syncCalls;
    // With the gate shut, an answer that waited for the fsync would never come: this await is the assertion.
    const pay = await app(tg, token, "POST", "/app/pay", {});
    expect(pay.status).toBe(200);
    const sessionId = pay.json.sessionId as string;
    // Nobody waits for the code's fsync, yet one is asked for (after the round already running, if any, ends).
    await waitUntil("the code's fsync to be asked for", () => syncCalls > asked);
    expect(gc.pending()).toBe(true);
    const order = orderFor(merchant, tg, { amount: "3.00" });
    let answered = false;
    const submit = submitOrder(merchant, tg, sessionId, order).then((r) => ((answered = true), r));
    await waitUntil("the submit to commit", () => orderRow(order.id as string)?.status === "awaiting_confirmation");
    let viewed = false;
    const view = app(tg, token, "GET", `/app/sessions/${sessionId}`).then((r) => ((viewed = true), r));
    await Bun.sleep(50);
    expect({ answered, viewed }).toEqual({ answered: false, viewed: false });
    gate!.open();
    expect((await submit).status).toBe(200);
    expect((await view).json.sessionStatus).toBe("used");
  } finally {
    gate?.open(); // a failure here must not leave the next tests' fsyncs held
  }
});

test("a pay code committed while another fsync runs gets a round of its own when that one ends, unasked", async () => {
  const { token } = addUser(tg, "ivy", "USD:100.00");
  await gc.durable();
  closeGate();
  try {
    // A round already running (held by the gate) when the code commits: it does not cover the code.
    tg.gw.db.run("UPDATE app_users SET name = name WHERE id IS NOT NULL");
    gc.committed();
    const running = () => (gc as unknown as { inflight: unknown }).inflight !== null;
    await waitUntil("the running round's fsync", running);
    const pay = await app(tg, token, "POST", "/app/pay", {});
    expect(pay.status).toBe(200);
    expect(gc.pending()).toBe(true);
    gate!.open();
    // Nobody waits on the code and no other request comes: its own round follows at once. (Without it, the next
    // commit of the scheduler or the event log, some 0.5-1 s later, is what would have covered the code.)
    await waitUntil("the code's own fsync", () => !gc.pending(), 500);
  } finally {
    gate?.open();
  }
});

test("concurrent submits share fsyncs: 8 commits made during one fsync are covered by one more", async () => {
  const users = Array.from({ length: 8 }, (_, i) => addUser(tg, `gc${i}`, "USD:100.00"));
  const sessions = await Promise.all(users.map(async (u) => (await app(tg, u.token, "POST", "/app/pay", {})).json.sessionId as string));
  const orders = sessions.map(() => orderFor(merchant, tg, { amount: "1.00" }));
  await gc.durable(); // the pay codes' own rounds (nobody waits on them) done before counting
  closeGate();
  const before = syncCalls;
  const fsyncsBefore = gc.fsyncs;
  const all = Promise.all(sessions.map((s, i) => submitOrder(merchant, tg, s, orders[i]!)));
  await waitUntil("all 8 submits to commit", () => orders.every((o) => orderRow(o.id as string)));
  gate!.open();
  const rs = await all;
  expect(rs.map((r) => r.status)).toEqual(Array(8).fill(200));
  // The first submit's fsync was held while the other seven committed: that one and one more cover all eight
  // (a background write of the scheduler may add one); one fsync per commit would be 8.
  expect(syncCalls - before).toBeLessThanOrEqual(3);
  expect(gc.fsyncs - fsyncsBefore).toBe(syncCalls - before);
});

test("a failing request rolls back only itself: a replayed session answers SESSION_USED while its neighbours commit", async () => {
  const a = addUser(tg, "ida", "USD:100.00");
  const b = addUser(tg, "jon", "USD:100.00");
  const sa = (await app(tg, a.token, "POST", "/app/pay", {})).json.sessionId as string;
  const sb = (await app(tg, b.token, "POST", "/app/pay", {})).json.sessionId as string;
  const [o1, o2, o3] = [0, 1, 2].map(() => orderFor(merchant, tg, { amount: "2.00" }));
  const rs = await Promise.all([submitOrder(merchant, tg, sa, o1!), submitOrder(merchant, tg, sa, o2!), submitOrder(merchant, tg, sb, o3!)]);
  expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 410]);
  expect([o1, o2].map((o) => orderRow(o!.id as string)).filter(Boolean)).toHaveLength(1);
  expect(orderRow(o3!.id as string)?.status).toBe("awaiting_confirmation");
});

test("SIGKILL mid-load (FULL, group commit): every acknowledged submit and confirm is there after the restart", async () => {
  const peer = await TestPeer.start({ ocid: 520, name: "Merchant 520", settlement: { currencies: ["USD"], accepts: [] } });
  peer.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
  const gw = new ProcessGateway({ ocid: 200, name: "GC", config: { sqliteSynchronous: "FULL", directory: { "520": peer.endpoint }, maxPendingSessions: 100_000 } });
  try {
    await gw.cli("init");
    const users = await Promise.all([0, 1, 2, 3].map((i) => gw.addUser(`load${i}`, "USD:100000.00")));
    await gw.start();
    peer.trustGateway(200, gw.publicKeyHex);
    const submitted: string[] = [];
    const confirmed: string[] = [];
    let stop = false;
    const loop = async (u: { token: string }) => {
      while (!stop) {
        try {
          const pay = await appAt(gw.url, u.token, "POST", "/app/pay", {});
          if (pay.status !== 200) continue;
          const order = makeOrder(520, { accepts: [200], amount: "1.00" });
          const body = { order, signature: peer.signOrder(order), urls: {} };
          const s = await peer.call(gw.url, "POST", `/opencharge/orders/create/${pay.json.sessionId}`, body);
          if (s.status !== 200) continue;
          submitted.push(order.id as string);
          const c = await appAt(gw.url, u.token, "POST", `/app/confirm/${pay.json.sessionId}`, {});
          if (c.status === 200 && c.json.status === "confirmed") confirmed.push(order.id as string);
        } catch {
          // the gateway is gone: the loop ends with stop
        }
      }
    };
    const loops = users.map(loop);
    // Killed at an arbitrary point of the stream, after a real amount of acknowledged work (not after a time).
    await waitUntil("40 acknowledged confirms", () => confirmed.length >= 40, 60_000);
    await gw.kill();
    stop = true;
    await Promise.all(loops);
    const ackedSubmits = [...submitted];
    const ackedConfirms = [...confirmed];
    await gw.start();
    const rows = gw.read((db) => new Map(db.query<{ order_id: string; status: string }, []>("SELECT order_id, status FROM orders WHERE merchant_ocid = 520").all().map((r) => [r.order_id, r.status])));
    expect(ackedSubmits.filter((id) => !rows.has(id))).toEqual([]);
    expect(ackedConfirms.filter((id) => !["confirmed", "paid"].includes(rows.get(id) ?? ""))).toEqual([]);
    expect(ackedConfirms.length).toBeGreaterThanOrEqual(40);
  } finally {
    await gw.close();
    await peer.stop();
  }
}, 120_000);
