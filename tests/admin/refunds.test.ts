// Issue 16: refunds as their own records, orders/deliveries/ledger reads, CSV exports and in_review resolution —
// against real settlement peers that sign and verify with their own code.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway as TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { app, assertPortLedgerBalanced, portBalance as balance, seedUser } from "../helpers/wallet";
import { startSettlementPeers, type SettlementPeers } from "../helpers/settlement-peers";
import { admin, apiKey } from "../helpers/admin";
import { makeOrder } from "../peers/kit";

const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
let tg: TestGateway;
let peers: SettlementPeers;
let key: string;

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
  key = await apiKey(tg, "ops", ["orders:read", "orders:write", "refunds:write", "deliveries:read", "deliveries:write", "ledger:read", "users:read"]);
});
afterAll(async () => {
  await peers.stop();
  await tg.close();
});
afterEach(async () => {
  offset.s = 0;
  await assertPortLedgerBalanced(tg);
});

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 8000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    tg.scheduler.wake();
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const bySession = (sessionId: string) => tg.gw.store.read((tx) => tx.orders.bySession(sessionId));
const orderById = (id: number) => tg.gw.store.read((tx) => tx.orders.byId(id));

let seq = 0;
async function paidOrder(accepts: number[], amount = "25.00") {
  const { user, token } = await seedUser(tg, `r${++seq}`, "USD:100.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = makeOrder(500, { accepts, amount });
  expect((await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { order, signature: peers.merchant.signOrder(order), urls: {} })).status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  const row = (await bySession(s.sessionId))!;
  await until("the order to be paid", async () => (await orderById(row.id))!.status === "paid");
  return { user, token, order, id: row.id };
}

const refund = (id: number, amount?: string) => admin(tg, key, "POST", `/admin/orders/${id}/refunds`, amount === undefined ? {} : { amount });
const status = async (orderId: string) => (await peers.merchant.call(tg.url, "GET", `/opencharge/orders/${encodeURIComponent(orderId)}/status`)).json;

test("direct order: partial refunds, then the rest; the merchant is debited, the user credited, a signed notice reaches the merchant", async () => {
  const { user, token, order, id } = await paidOrder([200]);
  const merchantBefore = await balance(tg, "peer:500");
  const r1 = await refund(id, "10.00");
  expect(r1.status).toBe(201);
  expect(r1.json.refund).toMatchObject({ id: expect.stringMatching(/^rf_/), amount: "10.00", status: "succeeded", method: "direct" });
  expect(await balance(tg, `user:${user.id}`)).toBe(8500n);
  expect(await balance(tg, "peer:500")).toBe(merchantBefore - 1000n);
  const notice = await peers.merchant.waitForRequest((r) => r.path.endsWith("/transfer/webhook") && r.json?.proof?.txid === r1.json.refund.txid);
  expect(notice.authentic).toBe(true);
  expect(peers.merchant.verifyProof(notice.json.proof, notice.json.signature, tg.gw.key.publicKeyHex)).toBe("deep");
  expect(notice.json.proof).toMatchObject({ issuer: 200, from: { ocid: 500, reference: order.id }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "10.00", currency: "USD" });
  const r2 = await refund(id); // the rest
  expect(r2.json.refund.amount).toBe("15.00");
  const over = await refund(id, "0.01");
  expect(over.status).toBe(422);
  expect(over.json.error).toMatchObject({ code: "REFUND_EXCEEDS_PAID", details: { paid: "25.00", refunded: "25.00", refundable: "0.00" } });
  expect(await balance(tg, `user:${user.id}`)).toBe(10000n);
  // The user's history and the merchant's status URL show it.
  const h = (await app(tg, token, "GET", "/app/history")).json.items.find((i: { orderId?: string }) => i.orderId === order.id);
  expect(h).toMatchObject({ status: "paid", amount: "25.00", refunded: "25.00" });
  const st = await status(order.id as string);
  expect(st).toMatchObject({ status: "paid", refunded: "25.00" });
  expect(st.refunds.map((r: { amount: string }) => r.amount)).toEqual(["10.00", "15.00"]);
  const detail = (await admin(tg, key, "GET", `/admin/orders/${id}`)).json;
  expect(detail.order.refunded).toBe("25.00");
  expect(detail.refunds.length).toBe(2);
  expect(detail.deliveries.length).toBe(3); // the payment proof and two refund notices
});

test("over-refund in one go is refused; refunds of unpaid orders are INVALID_STATE; amounts are validated", async () => {
  const { id } = await paidOrder([200], "5.00");
  expect((await refund(id, "5.01")).json.error.code).toBe("REFUND_EXCEEDS_PAID");
  expect((await refund(id, "1.001")).json.error.code).toBe("INVALID_AMOUNT");
  expect((await refund(999999, "1.00")).status).toBe(404);
  const { token } = await seedUser(tg, `r${++seq}`, "USD:10.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = makeOrder(500, { accepts: [200], amount: "1.00" });
  await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { order, signature: peers.merchant.signOrder(order), urls: {} });
  const unpaid = (await bySession(s.sessionId))!.id;
  const r = await refund(unpaid, "1.00");
  expect(r.status).toBe(409);
  expect(r.json.error.code).toBe("INVALID_STATE");
});

test("concurrent refunds that together exceed the paid amount: exactly the allowed ones succeed", async () => {
  const { user, id } = await paidOrder([200], "25.00");
  const rs = await Promise.all(Array.from({ length: 12 }, () => refund(id, "4.00")));
  const ok = rs.filter((r) => r.status === 201);
  expect(ok.length).toBe(6); // 6 × 4.00 = 24.00 ≤ 25.00 < 7 × 4.00
  expect(rs.filter((r) => r.status === 422).every((r) => r.json.error.code === "REFUND_EXCEEDS_PAID")).toBe(true);
  expect(rs.length - ok.length).toBe(6);
  expect(await balance(tg, `user:${user.id}`)).toBe(7500n + 2400n);
  expect((await refund(id, "1.00")).status).toBe(201);
  expect((await refund(id, "0.01")).status).toBe(422);
});

test("partner-settled order: the refund stays pending until the partner's proof arrives at /transfer/webhook", async () => {
  const { user, token, order, id } = await paidOrder([101]);
  expect((await orderById(id))!.settlementType).toBe("partner_reserve");
  const r = await refund(id, "10.00");
  expect(r.status).toBe(201);
  expect(r.json.refund).toMatchObject({ status: "pending", method: "partner", amount: "10.00" });
  expect(await balance(tg, `user:${user.id}`)).toBe(7500n);
  // Pending counts against the cap.
  expect((await refund(id, "15.01")).json.error.code).toBe("REFUND_EXCEEDS_PAID");
  // A proof from someone else, or of another amount, does not complete it.
  const wrongAmount = peers.partner.issueProof({ to: { ocid: 200, reference: `refund_${r.json.refund.id}` }, amount: "9.00", currency: "USD" });
  expect((await peers.partner.call(tg.url, "POST", "/opencharge/transfer/webhook", wrongAmount)).json).toMatchObject({ status: "rejected", message: "unknown reference" });
  expect((await admin(tg, key, "GET", `/admin/orders/${id}`)).json.refunds[0].status).toBe("pending");
  const proof = peers.partner.issueProof({ to: { ocid: 200, reference: `refund_${r.json.refund.id}` }, amount: "10.00", currency: "USD" });
  const w = await peers.partner.call(tg.url, "POST", "/opencharge/transfer/webhook", proof);
  expect(w.json).toEqual({ status: "accepted", txid: proof.proof.txid });
  // The same proof again: same answer, no second credit (one (issuer, txid) registry).
  expect((await peers.partner.call(tg.url, "POST", "/opencharge/transfer/webhook", proof)).json.status).toBe("accepted");
  const after = (await admin(tg, key, "GET", `/admin/orders/${id}`)).json.refunds[0];
  expect(after).toMatchObject({ status: "succeeded", txid: proof.proof.txid });
  expect(await balance(tg, `user:${user.id}`)).toBe(7500n + 1000n);
  const h = (await app(tg, token, "GET", "/app/history")).json.items.find((i: { orderId?: string }) => i.orderId === order.id);
  expect(h.refunded).toBe("10.00");
  expect((await status(order.id as string)).refunded).toBe("10.00");
});

test("a merchant's /transfer/create naming one of its paid orders is recorded as a refund and capped", async () => {
  const { user, order, id } = await paidOrder([200], "8.00");
  const body = (amount: string) => ({ from: { ocid: 500 }, to: { ocid: 200, reference: `user_${user.id}` }, amount, currency: "USD", order: { id: order.id } });
  const t1 = await peers.merchant.call(tg.url, "POST", "/opencharge/transfer/create", body("5.00"));
  expect(t1.status).toBe(200);
  const detail = (await admin(tg, key, "GET", `/admin/orders/${id}`)).json;
  expect(detail.refunds).toEqual([expect.objectContaining({ amount: "5.00", status: "succeeded", method: "merchant_transfer", txid: t1.json.proof.txid })]);
  const t2 = await peers.merchant.call(tg.url, "POST", "/opencharge/transfer/create", body("3.01"));
  expect(t2.status).toBe(422);
  expect(t2.json.error.code).toBe("REFUND_EXCEEDS_PAID");
  expect(await balance(tg, `user:${user.id}`)).toBe(9200n + 500n);
  // To another user, naming this order: refused.
  const other = await seedUser(tg, `r${++seq}`);
  const t3 = await peers.merchant.call(tg.url, "POST", "/opencharge/transfer/create", { ...body("1.00"), to: { ocid: 200, reference: `user_${other.user.id}` } });
  expect(t3.status).toBe(400);
});

test("orders list filters and pages; deliveries list and replay; balances; CSV exports sum to zero and match balances", async () => {
  await Bun.sleep(1100); // a time range that starts after the other tests' orders
  const start = now();
  await paidOrder([200], "1.00");
  await paidOrder([101], "2.00");
  const all = await admin(tg, key, "GET", "/admin/orders?limit=2");
  expect(all.json.items.length).toBe(2);
  expect(all.json.items[0]).toMatchObject({ id: expect.any(Number), orderId: expect.any(String), merchant: 500, amount: "2.00", currency: "USD", status: "paid" });
  const page2 = await admin(tg, key, "GET", `/admin/orders?limit=2&cursor=${all.json.nextCursor}`);
  expect(page2.json.items[0].id).toBeLessThan(all.json.items[1].id);
  const paid = await admin(tg, key, "GET", "/admin/orders?status=paid&limit=200");
  expect(paid.json.items.every((o: { status: string }) => o.status === "paid")).toBe(true);
  expect((await admin(tg, key, "GET", "/admin/orders?status=bogus")).status).toBe(400);
  const since = await admin(tg, key, "GET", `/admin/orders?from=${start}`);
  expect(since.json.items.map((o: { amount: string }) => o.amount)).toEqual(["2.00", "1.00"]);

  const ds = await admin(tg, key, "GET", "/admin/deliveries?state=delivered&limit=200");
  expect(ds.json.items.length).toBeGreaterThan(0);
  const d = ds.json.items[0];
  const before = peers.merchant.received.filter((r) => r.json?.proof?.txid === d.txid).length;
  const rep = await admin(tg, key, "POST", `/admin/deliveries/${d.id}/replay`);
  expect(rep.json.delivery.state).toBe("pending");
  await until("the replayed delivery", () => peers.merchant.received.filter((r) => r.json?.proof?.txid === d.txid).length > before);
  expect((await admin(tg, key, "POST", "/admin/deliveries/dlv_nope/replay")).status).toBe(404);

  const bal = (await admin(tg, key, "GET", "/admin/ledger/balances")).json;
  expect(bal.check).toEqual({ ok: true, problems: [] });
  const csvRes = await admin(tg, key, "GET", "/admin/exports/ledger.csv");
  expect(csvRes.headers.get("content-type")).toContain("text/csv");
  const lines = csvRes.text.trim().split("\r\n");
  expect(lines[0]).toBe("entry_id,movement_id,created_at,account,currency,amount,reason,order_id,ref");
  const perCurrency = new Map<string, bigint>();
  const perAccount = new Map<string, bigint>();
  const cents = (s: string) => BigInt(s.replace(".", ""));
  for (const line of lines.slice(1)) {
    const [, , , account, currency, amount] = line.split(",");
    perCurrency.set(currency!, (perCurrency.get(currency!) ?? 0n) + cents(amount!));
    perAccount.set(`${account} ${currency}`, (perAccount.get(`${account} ${currency}`) ?? 0n) + cents(amount!));
  }
  for (const [, sum] of perCurrency) expect(sum).toBe(0n);
  for (const b of bal.balances) expect([b.account, perAccount.get(`${b.account} ${b.currency}`) ?? 0n]).toEqual([b.account, cents(b.balance)]);
  // A time range: still zero per currency (a movement's two entries share their timestamp).
  const ranged = (await admin(tg, key, "GET", `/admin/exports/ledger.csv?from=${start}&to=${now() + 1}`)).text.trim().split("\r\n").slice(1);
  expect(ranged.length).toBeGreaterThan(0);
  expect(ranged.reduce((s, l) => s + cents(l.split(",")[5]!), 0n)).toBe(0n);
  const orders = (await admin(tg, key, "GET", `/admin/exports/orders.csv?from=${new Date(start * 1000).toISOString()}`)).text.trim().split("\r\n");
  expect(orders[0]).toBe("id,order_id,merchant_ocid,user_id,status,currency,amount,refunded,net,settlement_type,settlement_via,txid,received_at,updated_at");
  expect(orders.length).toBe(3);
  expect((await admin(tg, key, "GET", "/admin/exports/orders.csv?from=yesterday-ish")).status).toBe(400);
});

test("resolve an in_review order through the API: refund to the user, audited; a second resolve is INVALID_STATE", async () => {
  peers.partnerTransfer.override((req) => (req.json?.order?.id?.startsWith("lost_") ? { dropConnection: true } : null));
  const { user, token } = await seedUser(tg, `r${++seq}`, "USD:100.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = makeOrder(500, { id: `lost_${seq}`, accepts: [101], amount: "25.00" });
  await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { order, signature: peers.merchant.signOrder(order), urls: {} }, { timestamp: now() });
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  const id = (await bySession(s.sessionId))!.id;
  await until("a first attempt", async () => (await tg.gw.store.read((tx) => tx.jobs.byOrder(id)))!.stepAttempts >= 1);
  offset.s += 901;
  await until("in_review", async () => (await orderById(id))!.status === "in_review");
  const inReview = await admin(tg, key, "GET", "/admin/orders?status=in_review");
  expect(inReview.json.items.map((o: { id: number }) => o.id)).toContain(id);
  const detail = (await admin(tg, key, "GET", `/admin/orders/${id}`)).json;
  expect(detail.job).toMatchObject({ state: expect.any(String), pinned: true });
  expect(detail.anomalies.map((a: { kind: string }) => a.kind)).toContain("unresolved_settlement");
  const r = await admin(tg, key, "POST", `/admin/orders/${id}/resolve`, { action: "refund" });
  expect(r.status).toBe(200);
  expect(r.json.order.status).toBe("failed");
  expect(await balance(tg, `user:${user.id}`)).toBe(10000n);
  expect((await admin(tg, key, "POST", `/admin/orders/${id}/resolve`, { action: "refund" })).status).toBe(409);
  const [audit] = await tg.gw.store.read((tx) => tx.audit.page(Number.MAX_SAFE_INTEGER, 1));
  expect(audit).toMatchObject({ actor: "ops", action: "orders.resolve" });
  expect(audit!.args).toMatchObject({ orderId: id, action: "refund" });
});
