// Issue 16: peers' accounts — a partner funded through the API completes a /transfer/create to one of our users;
// a merchant's balance from direct settlement is paid out; both with Idempotency-Key and audited.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRows } from "../helpers/inspect";
import { admin, apiKey } from "../helpers/admin";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { TestPeer } from "../peers/kit";

let tg: PortTestGateway;
let key: string;
let partner: TestPeer;
let merchant: TestPeer;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
  key = await apiKey(tg, "treasury", ["peers:write", "ledger:read"]);
  partner = await TestPeer.start({ ocid: 160 });
  partner.trustGateway(200, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(160, partner.endpoint);
  merchant = await startMerchant(tg, 500);
  merchant.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json.proof.txid } }));
});
afterAll(async () => {
  await partner.stop();
  await merchant.stop();
  await tg.close();
});
afterEach(() => assertPortLedgerBalanced(tg));

test("before funding, a partner's /transfer/create is ACCOUNT_NOT_FOUND; funded through the API, it pays our user", async () => {
  const { user, token } = await seedUser(tg, "paid-by-partner");
  const body = { from: { ocid: 160, reference: "wd-1" }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "40.00", currency: "USD" };
  const before = await partner.call(tg.url, "POST", "/opencharge/transfer/create", body);
  expect(before.json.error.code).toBe("ACCOUNT_NOT_FOUND");
  const f = await admin(tg, key, "POST", "/admin/peers/160/credits", { currency: "USD", amount: "100.00" }, { "idempotency-key": "reserve-1" });
  expect(f.status).toBe(201);
  expect(f.json.movement).toMatchObject({ kind: "credit", account: "peer:160", amount: "100.00", balance: "100.00" });
  // A retried deposit is not a second deposit.
  expect((await admin(tg, key, "POST", "/admin/peers/160/credits", { currency: "USD", amount: "100.00" }, { "idempotency-key": "reserve-1" })).text).toBe(f.text);
  const t = await partner.call(tg.url, "POST", "/opencharge/transfer/create", body);
  expect(t.status).toBe(200);
  expect(partner.verifyProof(t.json.proof, t.json.signature, tg.gw.key.publicKeyHex)).toBe("deep");
  expect((await app(tg, token, "GET", "/app/me")).json.balances).toContainEqual({ currency: "USD", amount: "40.00" });
  expect((await admin(tg, key, "GET", "/admin/peers/160")).json).toEqual({ ocid: 160, account: "peer:160", balances: [{ currency: "EUR", amount: "0.00" }, { currency: "USD", amount: "60.00" }] });
  // Beyond what was funded: 402, nothing moved.
  const short = await partner.call(tg.url, "POST", "/opencharge/transfer/create", { ...body, amount: "60.01" });
  expect(short.status).toBe(402);
  expect((await portBalance(tg, "peer:160"))).toBe(6000n);
});

test("a merchant's balance from direct settlement is paid out; more than it holds is 402", async () => {
  const { token } = await seedUser(tg, "shopper", "USD:50.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "12.00" }))).status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  for (let i = 0; i < 200 && (await portBalance(tg, "peer:500")) < 1200n; i++) await Bun.sleep(20);
  expect((await portBalance(tg, "peer:500"))).toBe(1200n);
  const over = await admin(tg, key, "POST", "/admin/peers/500/debits", { currency: "USD", amount: "12.01" });
  expect(over.status).toBe(402);
  const out = await admin(tg, key, "POST", "/admin/peers/500/debits", { currency: "USD", amount: "12.00" });
  expect(out.status).toBe(201);
  expect(out.json.movement).toMatchObject({ kind: "debit", account: "peer:500", balance: "0.00" });
  expect((await portBalance(tg, "peer:500"))).toBe(0n);
  const audit = (await dbRows<{ action: string }>(tg, "SELECT action FROM audit_log WHERE actor = 'treasury' ORDER BY id")).map((r) => r.action);
  expect(audit).toEqual(["peers.credit", "peers.debit"]);
  expect((await admin(tg, key, "POST", "/admin/peers/200/credits", { currency: "USD", amount: "1.00" })).status).toBe(400);
  expect((await admin(tg, key, "POST", "/admin/peers/abc/credits", { currency: "USD", amount: "1.00" })).status).toBe(400);
});
