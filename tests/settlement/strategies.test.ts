// Issue 6: the whole flow for each strategy, from /app/pay to the merchant holding a proof it verifies itself.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow, dbRows } from "../helpers/inspect";
import { startSettlementPeers, type SettlementPeers } from "../helpers/settlement-peers";
import { makeOrder } from "../peers/kit";

let tg: PortTestGateway;
let peers: SettlementPeers;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;

beforeAll(async () => {
  tg = await startPortTestGateway(
    {
      partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
      providers: [{ ocid: 300, currencies: ["USD"] }],
      acceptIssuers: [101, 300],
      outboundTimeouts: { settlementMs: 700, webhookMs: 700 },
      rateLimits: NO_RATE_LIMITS,
      maxPendingSessions: 1000,
    },
    { clock: now },
  );
  peers = await startSettlementPeers(tg);
});
afterAll(async () => {
  await peers.stop();
  await tg.close();
});
afterEach(async () => {
  offset.s = 0;
  await assertPortLedgerBalanced(tg);
});

let seq = 0;
async function confirmedOrder(accepts: number[], amount = "25.00") {
  const { user, token } = await seedUser(tg, `s${++seq}`, "USD:100.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = makeOrder(500, { accepts, amount });
  const sub = await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, {
    order,
    signature: peers.merchant.signOrder(order),
    urls: { order: [`https://shop.example/o/${order.id}`] },
  });
  expect(sub.status).toBe(200);
  const c = await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {});
  expect(c.status).toBe(200);
  return { user, token, order, sessionId: s.sessionId as string };
}

async function statusOf(orderId: string) {
  return (await peers.merchant.call(tg.url, "GET", `/opencharge/orders/${encodeURIComponent(orderId)}/status`, undefined, { timestamp: now() })).json;
}

async function waitStatus(orderId: string, want: string[], ms = 8000, tick?: () => void) {
  const end = Date.now() + ms;
  let last: any;
  while (Date.now() < end) {
    last = await statusOf(orderId);
    if (want.includes(last.status)) return last;
    tick?.();
    await Bun.sleep(30);
  }
  throw new Error(`status stayed ${JSON.stringify(last)}`);
}

async function inFlight() {
  return (await portBalance(tg, "settlement_in_flight"));
}

test("direct: the merchant's webhook receives our proof, verifies it with its own code, status shows paid", async () => {
  const before = (await portBalance(tg, "peer:500"));
  const { user, order } = await confirmedOrder([200]);
  const st = await waitStatus(order.id as string, ["paid"]);
  expect(st.settlement).toEqual({ type: "direct" });
  expect(st.proof.issuer).toBe(200);
  expect(st.proof.to).toEqual({ ocid: 500, reference: order.id });
  expect(st.proof.from).toEqual({ ocid: 200, reference: `user_${user.id}` });
  expect(st.proof.amount).toBe("25.00");
  expect(peers.merchant.verifyProof(st.proof, st.signature, tg.gw.key.publicKeyHex)).toBe("deep");
  const got = await peers.merchant.waitForRequest((r) => r.path.endsWith("/transfer/webhook") && r.json?.proof?.txid === st.txid);
  expect(got.authentic).toBe(true);
  expect(got.headers.get("idempotency-key")).toMatch(/^dlv_/);
  const delivered = await waitStatus(order.id as string, ["paid"], 3000);
  expect((await portBalance(tg, "peer:500")) - before).toBe(2500n);
  expect(await inFlight()).toBe(0n);
  for (let i = 0; i < 50 && (await statusOf(order.id as string)).delivery?.state !== "delivered"; i++) await Bun.sleep(20);
  expect((await statusOf(order.id as string)).delivery).toEqual({ state: "delivered", attempts: 1 });
  void delivered;
});

test("partner reserve: signed /transfer/create at 101, its proof verified and stored, ledger to external:101", async () => {
  const before = (await portBalance(tg, "external:101"));
  const { user, order } = await confirmedOrder([101]);
  const st = await waitStatus(order.id as string, ["paid"]);
  expect(st.settlement).toEqual({ type: "partner_reserve", via: 101 });
  expect(st.proof.issuer).toBe(101);
  const req = await peers.partner.waitForRequest((r) => r.path === "/opencharge/transfer/create" && r.json?.order?.id === order.id);
  expect(req.authentic).toBe(true);
  expect(new TextDecoder().decode(req.rawBody)).toBe(
    JSON.stringify({
      from: { ocid: 200, reference: `user_${user.id}` },
      to: { ocid: 500, reference: order.id },
      amount: "25.00",
      currency: "USD",
      order: { id: order.id, urls: [`https://shop.example/o/${order.id}`] },
    }),
  );
  expect(req.headers.get("idempotency-key")).toMatch(/^[0-9a-f]{32}:transfer\.create$/);
  expect((await portBalance(tg, "external:101")) - before).toBe(2500n);
  expect(await inFlight()).toBe(0n);
});

test("common third party: payment.create → provider transfer → payment.settle → the gateway's final proof", async () => {
  const before = (await portBalance(tg, "external:300"));
  const { order } = await confirmedOrder([102]);
  const st = await waitStatus(order.id as string, ["paid"]);
  expect(st.settlement).toEqual({ type: "common_third_party", via: 102 });
  expect(st.proof.issuer).toBe(102);
  expect(st.proof.to).toEqual({ ocid: 500, reference: order.id });
  const create = await peers.mg.waitForRequest((r) => r.path.endsWith("/payment/create") && r.json?.order?.id === order.id);
  const txid = [...peers.payments.entries()].find(([, p]) => p.orderId === order.id)![0];
  const ptx = await peers.provider.waitForRequest((r) => r.path.endsWith("/transfer/create") && r.json?.to?.reference === txid);
  expect(ptx.json.to).toEqual({ ocid: 102, reference: txid });
  expect(create.authentic && ptx.authentic).toBe(true);
  expect((await portBalance(tg, "external:300")) - before).toBe(2500n);
  expect(await inFlight()).toBe(0n);
});

test("webhook answering 500 twice then accepting: 3 attempts, delivered once", async () => {
  let failures = 0;
  peers.webhook.override((_req) => (failures < 2 ? (failures++, { status: 500, body: { error: { code: "INTERNAL_ERROR", message: "x" } } }) : null));
  const { order } = await confirmedOrder([200]);
  await waitStatus(order.id as string, ["paid"]);
  const txid = (await statusOf(order.id as string)).txid;
  // Retries wait 10 s then 60 s: move the gateway clock instead of the test's, once each attempt is recorded.
  const attemptsOf = async () => (await dbRow<{ attempts: number }>(tg, "SELECT attempts FROM deliveries WHERE txid = ?", txid))?.attempts ?? 0;
  for (const [step, recorded] of [[11, 1], [61, 2]] as const) {
    for (let i = 0; i < 200 && (await attemptsOf()) < recorded; i++) await Bun.sleep(10);
    expect(await attemptsOf()).toBe(recorded);
    offset.s += step;
    tg.scheduler.wake();
  }
  let st: any;
  for (let i = 0; i < 100; i++) {
    st = await statusOf(order.id as string);
    if (st.delivery?.state === "delivered") break;
    await Bun.sleep(20);
  }
  expect(st.delivery).toEqual({ state: "delivered", attempts: 3 });
  expect(peers.webhookLog.filter((w) => w.proof.txid === txid).length).toBe(1);
  const rows = (await dbRows<{ result: string }>(tg, "SELECT a.result FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.txid = ? ORDER BY a.id", txid));
  expect(rows.map((r) => r.result)).toEqual(["retry", "retry", "delivered"]);
});

test("a webhook reply of `rejected` is final", async () => {
  peers.webhook.override((req) => (req.json?.proof?.to?.reference?.startsWith("rej_") ? { body: { status: "rejected", txid: req.json.proof.txid, message: "unknown order" } } : null));
  const { order } = await confirmedOrderWithId("rej_1");
  await waitStatus(order.id as string, ["paid"]);
  let st: any;
  for (let i = 0; i < 100; i++) {
    st = await statusOf(order.id as string);
    if (st.delivery?.state === "rejected") break;
    await Bun.sleep(20);
  }
  expect(st.delivery).toEqual({ state: "rejected", attempts: 1 });
  offset.s += 4000;
  tg.scheduler.wake();
  await Bun.sleep(100);
  expect((await statusOf(order.id as string)).delivery).toEqual({ state: "rejected", attempts: 1 });
});

async function confirmedOrderWithId(id: string, accepts = [200]) {
  const { user, token } = await seedUser(tg, `r${++seq}`, "USD:100.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = makeOrder(500, { id, accepts, amount: "25.00" });
  const sub = await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { order, signature: peers.merchant.signOrder(order), urls: {} });
  expect(sub.status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  return { user, token, order, sessionId: s.sessionId as string };
}

test("a partner gateway that times out: retried with the same Idempotency-Key, paid once", async () => {
  peers.partnerTransfer.override((req, attempt) =>
    req.json?.order?.id?.startsWith("slow_") && attempt === 1 ? ({ delayMs: 1500, body: {}, performed: true } as any) : null,
  );
  const movedBefore = peers.stats.moved.get("/transfer/create") ?? 0;
  const { order } = await confirmedOrderWithId("slow_1", [101]);
  // First attempt times out (700 ms); the retry is due 5 s later on the gateway's clock.
  await peers.partner.waitForRequest((r) => r.json?.order?.id === "slow_1");
  await Bun.sleep(900);
  offset.s += 6;
  const st = await waitStatus(order.id as string, ["paid"], 8000, () => tg.scheduler.wake());
  expect(st.proof.issuer).toBe(101);
  const calls = peers.partner.received.filter((r) => r.json?.order?.id === "slow_1");
  expect(calls.length).toBe(2);
  expect(new Set(calls.map((c) => c.headers.get("idempotency-key"))).size).toBe(1);
  expect(new Set(calls.map((c) => c.headers.get("x-oc-nonce"))).size).toBe(2);
  expect((peers.stats.moved.get("/transfer/create") ?? 0) - movedBefore).toBe(0); // performed by the override, once
  expect(await inFlight()).toBe(0n);
});

test("a gateway that refuses on the first attempt: the next path is used", async () => {
  peers.partnerTransfer.override((req) =>
    req.json?.order?.id?.startsWith("refuse_") ? { status: 402, body: { error: { code: "INSUFFICIENT_FUNDS", message: "reserve short" } } } : null,
  );
  const { order } = await confirmedOrderWithId("refuse_1", [101, 102]);
  const st = await waitStatus(order.id as string, ["paid"]);
  expect(st.settlement).toEqual({ type: "common_third_party", via: 102 });
  expect(st.proof.issuer).toBe(102);
});

test("every path refuses: the order fails and the user is refunded in full", async () => {
  const { user, order } = await confirmedOrderWithId("refuse_2", [101]);
  const st = await waitStatus(order.id as string, ["failed"]);
  expect(st.status).toBe("failed");
  expect((await portBalance(tg, `user:${user.id}`))).toBe(10000n);
  expect(await inFlight()).toBe(0n);
});
