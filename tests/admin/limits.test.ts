// Issue 16: per-user limits at each boundary — per payment and per UTC day at confirm, maximum balance at every
// credit (operator credit, a peer's webhook credit, a partner's /transfer/create) — and nothing half-written.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow, dbDigestOf } from "../helpers/inspect";
import { admin, apiKey } from "../helpers/admin";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { TestPeer } from "../peers/kit";

let tg: PortTestGateway;
let key: string;
let merchant: TestPeer;
let issuer: TestPeer;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, acceptIssuers: [101], maxPendingSessions: 100 });
  key = await apiKey(tg, "limits", ["users:read", "users:write", "funds:write"]);
  merchant = await startMerchant(tg, 500);
  issuer = await TestPeer.start({ ocid: 101 });
  issuer.trustGateway(200, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(101, issuer.endpoint);
});
afterAll(async () => {
  await merchant.stop();
  await issuer.stop();
  await tg.close();
});
afterEach(() => assertPortLedgerBalanced(tg));

async function user(name: string, credit = "100.00") {
  const { json } = await admin(tg, key, "POST", "/admin/users", { name });
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/credits`, { currency: "USD", amount: credit });
  return { id: json.user.id as string, token: json.token as string };
}

async function pendingOrder(token: string, amount: string) {
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const sub = await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount }));
  expect(sub.status).toBe(200);
  return s.sessionId as string;
}

test("per payment: exactly the limit confirms, one cent more is LIMIT_EXCEEDED and changes nothing", async () => {
  const u = await user("lp");
  const set = await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perPayment: "20.00" });
  expect(set.json).toEqual({ userId: u.id, limits: { USD: { per_payment: "20.00" } } });
  const over = await pendingOrder(u.token, "20.01");
  const before = (await dbDigestOf(tg));
  const r = await app(tg, u.token, "POST", `/app/confirm/${over}`, {});
  expect(r.status).toBe(422);
  expect(r.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", currency: "USD", max: "20.00" } });
  expect((await dbDigestOf(tg))).toBe(before);
  expect((await app(tg, u.token, "GET", `/app/sessions/${over}`)).json.status).toBe("awaiting_confirmation");
  const ok = await pendingOrder(u.token, "20.00");
  expect((await app(tg, u.token, "POST", `/app/confirm/${ok}`, {})).status).toBe(200);
  // Removing the limit (null) lets the bigger payment through.
  await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perPayment: null });
  expect((await app(tg, u.token, "POST", `/app/confirm/${over}`, {})).status).toBe(200);
});

test("per day: payments add up within the UTC day; the one that would pass the limit is refused", async () => {
  const u = await user("ld");
  await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perDay: "30.00" });
  expect((await app(tg, u.token, "POST", `/app/confirm/${await pendingOrder(u.token, "10.00")}`, {})).status).toBe(200);
  expect((await app(tg, u.token, "POST", `/app/confirm/${await pendingOrder(u.token, "20.00")}`, {})).status).toBe(200);
  const third = await pendingOrder(u.token, "0.01");
  const r = await app(tg, u.token, "POST", `/app/confirm/${third}`, {});
  expect(r.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_day", max: "30.00" } });
  expect((await portBalance(tg, `user:${u.id}`))).toBe(7000n);
});

test("max balance: every credit path stops at the limit (operator credit, webhook credit, partner transfer)", async () => {
  const u = await user("lb", "90.00");
  await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", maxBalance: "100.00" });
  const over = await admin(tg, key, "POST", `/admin/users/${u.id}/credits`, { currency: "USD", amount: "10.01" });
  expect(over.status).toBe(422);
  expect(over.json.error.details).toMatchObject({ limit: "max_balance", max: "100.00" });
  const audit = (await dbRow(tg, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'users.credit'")) as { n: number };
  // Webhook credit: refused as a definite reply, nothing credited.
  const p = issuer.issueProof({ to: { ocid: 200, reference: `user_${u.id}` }, amount: "10.01", currency: "USD" });
  const w = await issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", p);
  expect(w.json).toMatchObject({ status: "rejected", txid: p.proof.txid });
  expect(w.json.message).toContain("max_balance");
  // Partner transfer: LIMIT_EXCEEDED, the partner's account untouched.
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:101", currency: "USD", amount: 5000n, reason: "funding", now: 1 }));
  const before = (await dbDigestOf(tg));
  const t = await issuer.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 101 }, to: { ocid: 200, reference: `user_${u.id}` }, amount: "10.01", currency: "USD" });
  expect(t.status).toBe(422);
  expect(t.json.error.code).toBe("LIMIT_EXCEEDED");
  expect((await dbDigestOf(tg))).toBe(before);
  expect((await portBalance(tg, `user:${u.id}`))).toBe(9000n);
  // Exactly up to the limit is fine.
  expect((await admin(tg, key, "POST", `/admin/users/${u.id}/credits`, { currency: "USD", amount: "10.00" })).status).toBe(201);
  expect((await portBalance(tg, `user:${u.id}`))).toBe(10000n);
  expect(((await dbRow(tg, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'users.credit'")) as { n: number }).n).toBe(audit.n + 1);
  // Limits are per currency: EUR is not limited.
  expect((await admin(tg, key, "POST", `/admin/users/${u.id}/credits`, { currency: "EUR", amount: "500.00" })).status).toBe(201);
  expect((await admin(tg, key, "GET", `/admin/users/${u.id}`)).json.limits).toEqual({ USD: { max_balance: "100.00" } });
});

test("limit values are validated like amounts", async () => {
  const u = await user("lv");
  expect((await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perDay: "1.001" })).json.error.code).toBe("INVALID_AMOUNT");
  expect((await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perDay: 5 })).status).toBe(400);
});
