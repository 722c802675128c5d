// §9.6 hosted checkout: a merchant gateway creates it, one of our users pays it, the MG is paid (§12.9).
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbDigestOf } from "../helpers/inspect";
import { makeOrder, TestPeer } from "../peers/kit";

let tg: PortTestGateway;
let mg: TestPeer;
let merchant: TestPeer;
let other: TestPeer;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
  mg = await TestPeer.start({ ocid: 102, name: "MG" });
  merchant = await TestPeer.start({ ocid: 500, name: "Shop" });
  other = await TestPeer.start({ ocid: 103, name: "Other MG" });
  for (const p of [mg, merchant, other]) {
    p.trustGateway(200, tg.gw.key.publicKeyHex);
    await tg.gw.directory.add(p.ocid, p.endpoint);
  }
  mg.route("POST", "/transfer/webhook", (req) => ({ body: { status: mg.verifyProof(req.json.proof, req.json.signature, tg.gw.key.publicKeyHex) ? "accepted" : "rejected", txid: req.json.proof.txid } }));
});
afterAll(async () => {
  for (const p of [mg, merchant, other]) await p.stop();
  await tg.close();
});
afterEach(() => assertPortLedgerBalanced(tg));

const urls = { success: "https://shop.example/ok", cancel: "https://shop.example/cancel" };
function create(caller: TestPeer, order: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return caller.call(tg.url, "POST", "/opencharge/checkout/create", { order, signature: merchant.signOrder(order), merchantOcid: 500, urls, ...extra });
}

test("create → any signed-in user sees it → confirm → MG credited, our proof delivered to the MG, redirect to success", async () => {
  const order = makeOrder(500, { accepts: [102], amount: "9.99" });
  const r = await create(mg, order);
  expect(r.status).toBe(200);
  expect(r.responseSignatureValid).toBe(true);
  expect(Object.keys(r.json)).toEqual(["checkout_url", "session_id", "expires_at"]);
  expect(r.json.checkout_url).toBe(`${tg.gw.config.webBaseUrl}/checkout/${r.json.session_id}`);
  const sid = r.json.session_id;
  const { user, token } = await seedUser(tg, "payer", "USD:50.00");
  const view = await app(tg, token, "GET", `/app/sessions/${sid}`);
  expect(view.json).toMatchObject({ kind: "checkout", status: "awaiting_confirmation", order: { id: order.id } });
  const before = (await portBalance(tg, "peer:102"));
  const c = await app(tg, token, "POST", `/app/confirm/${sid}`, {});
  expect(c.json).toEqual({ status: "confirmed", redirect: urls.success });
  const hook = await mg.waitForRequest((q) => q.path === "/opencharge/transfer/webhook" && q.json?.proof?.to?.reference === order.id);
  expect(hook.authentic).toBe(true);
  expect(hook.json.proof).toMatchObject({ issuer: 200, from: { ocid: 200, reference: `user_${user.id}` }, to: { ocid: 102, reference: order.id }, amount: "9.99" });
  expect((await portBalance(tg, "peer:102")) - before).toBe(999n);
  const st = await mg.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`);
  expect(st.json).toMatchObject({ status: "paid", settlement: { type: "checkout", via: 102 } });
  // After confirmation only the confirming user may see it.
  const { token: t2 } = await seedUser(tg, "nosy");
  expect((await app(tg, t2, "GET", `/app/sessions/${sid}`)).status).toBe(403);
});

test("decline redirects to cancel; nothing moves", async () => {
  const order = makeOrder(500, { accepts: [102] });
  const sid = (await create(mg, order)).json.session_id;
  const { user, token } = await seedUser(tg, "decliner", "USD:50.00");
  expect((await app(tg, token, "POST", `/app/decline/${sid}`, {})).json).toEqual({ status: "declined", redirect: urls.cancel });
  expect((await portBalance(tg, `user:${user.id}`))).toBe(5000n);
});

test("errors in the SPEC's order, each leaving the database unchanged", async () => {
  const order = makeOrder(500, { accepts: [102] });
  const cases: [() => Promise<any>, number, string, string?][] = [
    [() => create(mg, order, { merchantOcid: 501 }), 403, "UNAUTHORIZED"],
    [() => create(other, order), 400, "SETTLEMENT_NOT_SUPPORTED", "caller_not_accepted"],
    [() => create(mg, makeOrder(777, { accepts: [102] }), { merchantOcid: 777 }), 400, "INVALID_SIGNATURE", "merchant_unknown"],
    [() => mg.call(tg.url, "POST", "/opencharge/checkout/create", { order, signature: other.signOrder(order), merchantOcid: 500, urls }), 400, "INVALID_SIGNATURE"],
    [() => create(mg, makeOrder(500, { accepts: [102], expiresAt: Math.floor(Date.now() / 1000) - 5 })), 400, "ORDER_EXPIRED"],
    [() => create(mg, makeOrder(500, { accepts: [102], amount: "-1" })), 400, "INVALID_AMOUNT"],
    [() => create(mg, order, { merchantOcid: "500" }), 400, "INVALID_REQUEST"],
  ];
  for (const [run, status, code, reason] of cases) {
    const before = (await dbDigestOf(tg));
    const r = await run();
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    if (reason) expect(r.json.error.details.reason).toBe(reason);
    expect((await dbDigestOf(tg))).toBe(before);
  }
  expect((await create(mg, order)).status).toBe(200);
  expect((await create(mg, order)).json.error.code).toBe("ORDER_ALREADY_EXISTS");
});
