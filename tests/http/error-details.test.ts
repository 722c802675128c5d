// Issue 19: every 400 says what to do — a machine-readable details.reason and a message naming the rule broken.
// Real server, real signed peers; every 4xx answer seen here is also checked for the common shape at the end.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { makeOrder, type TestPeer } from "../peers/kit";
import { ERRORS, type ErrorCode } from "../../src/protocol/errors";

let tg: PortTestGateway;
let merchant: TestPeer;
let mg: TestPeer;
const seen: { what: string; status: number; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } }[] = [];

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 1000, partners: [{ ocid: 102, reserveCurrencies: ["USD"] }] });
  merchant = await startMerchant(tg, 500);
  mg = await startMerchant(tg, 102);
});
afterAll(async () => {
  await merchant.stop();
  await mg.stop();
  await tg.close();
});

async function fails(what: string, r: Promise<{ status: number; json: any }>, status: number, code: ErrorCode) {
  const res = await r;
  expect(res.status).toBe(status);
  expect(res.json.error.code).toBe(code);
  seen.push({ what, status: res.status, error: res.json.error });
  return res.json.error as { code: string; message: string; details: Record<string, any> };
}

let users = 0;
async function session() {
  const { token } = await seedUser(tg, `u${++users}`, "USD:100.00");
  const r = await app(tg, token, "POST", "/app/pay", {});
  return { token, id: r.json.sessionId as string };
}
const submit = async (overrides: Record<string, unknown>, opts: Parameters<typeof submitOrder>[4] = {}) =>
  submitOrder(merchant, tg, (await session()).id, orderFor(merchant, tg, overrides), opts);

test("amounts: syntax, decimal comma, sign, decimals for the currency, zero", async () => {
  const comma = await fails("1,50", submit({ amount: "1,50" }), 400, "INVALID_AMOUNT");
  expect(comma.details).toMatchObject({ reason: "decimal_comma", amount: "1,50", currency: "USD", decimals: 2 });
  expect(comma.message).toContain("dot");
  const neg = await fails("-5.00", submit({ amount: "-5.00" }), 400, "INVALID_AMOUNT");
  expect(neg.details.reason).toBe("negative");
  expect(neg.message).toContain("positive");
  const zero = await fails("0.00", submit({ amount: "0.00" }), 400, "INVALID_AMOUNT");
  expect(zero.details.reason).toBe("zero");
  expect(zero.message).toContain("greater than zero");
  const prec = await fails("1.234", submit({ amount: "1.234" }), 400, "INVALID_AMOUNT");
  expect(prec.details).toMatchObject({ reason: "precision", decimals: 2 });
  expect(prec.message).toBe('USD has 2 decimals; "1.234" has 3');
  const syn = await fails("1e3", submit({ amount: "1e3" }), 400, "INVALID_AMOUNT");
  expect(syn.details.reason).toBe("syntax");
});

test("schema: the rule and its limit per field", async () => {
  const e = await fails("long id", submit({ id: "x".repeat(200) }), 400, "INVALID_REQUEST");
  expect(e.details.reason).toBe("schema");
  expect(e.details.fields).toEqual(["order.id"]);
  expect(e.details.errors[0]).toMatchObject({ field: "order.id", limit: { maxLength: 128 } });
  expect(e.message).toStartWith("order.id: ");
  expect(e.message).toContain("128");
  const notObj = await fails("array body", merchant.call(tg.url, "POST", `/opencharge/orders/create/${(await session()).id}`, { raw: "[1]" }), 400, "INVALID_REQUEST");
  expect(notObj.details.reason).toBe("not_an_object");
  expect(notObj.message).toContain("JSON object");
});

test("currencies and OCIDs: what we accept", async () => {
  const cur = await fails("JPY", submit({ currency: "JPY", amount: "100" }), 400, "SETTLEMENT_NOT_SUPPORTED");
  expect(cur.details).toEqual({ reason: "currency", currency: "JPY", accepted: [...tg.gw.config.currencies.enabled].sort() });
  expect(cur.message).toContain(tg.gw.config.currencies.enabled[0]!);
  const np = await fails("no path", submit({ accepts: [999] }), 400, "SETTLEMENT_NOT_SUPPORTED");
  expect(np.details).toMatchObject({ reason: "no_path", accepts: [999], acceptedOcids: expect.arrayContaining([tg.gw.config.ocid]) });
  expect(np.message).toContain(String(tg.gw.config.ocid));
  const order = makeOrder(500, { accepts: [777] });
  const body = { order, signature: merchant.signOrder(order), merchantOcid: 500, urls: {} };
  const na = await fails("checkout not accepted", mg.call(tg.url, "POST", "/opencharge/checkout/create", body), 400, "SETTLEMENT_NOT_SUPPORTED");
  expect(na.details).toEqual({ reason: "caller_not_accepted", caller: 102, accepts: [777] });
});

test("a cancelled code is not a used one", async () => {
  const s = await session();
  expect((await app(tg, s.token, "POST", `/app/decline/${s.id}`, {})).status).toBe(200);
  const c = await fails("cancelled", submitOrder(merchant, tg, s.id, orderFor(merchant, tg)), 410, "SESSION_USED");
  expect(c.details.reason).toBe("cancelled");
  expect(c.message).toContain("cancelled");
  const u = await session();
  expect((await submitOrder(merchant, tg, u.id, orderFor(merchant, tg))).status).toBe(200);
  // A used session keeps the SPEC's exact error body (the response-signature vector signs it): no details.
  const used = await (await submitOrder(merchant, tg, u.id, orderFor(merchant, tg))).json;
  expect(used).toEqual({ error: { code: "SESSION_USED", message: "Session already used" } });
});

test("timestamps: our current time", async () => {
  const ts = Math.floor(Date.now() / 1000) - 1000;
  const e = await fails("old timestamp", submit({}, { timestamp: ts }), 401, "TIMESTAMP_EXPIRED");
  expect(e.details).toMatchObject({ reason: "timestamp_window", timestamp: ts, windowSeconds: tg.gw.config.authWindow });
  expect(Math.abs((e.details.serverTime as number) - Date.now() / 1000)).toBeLessThan(5);
  expect(e.message).toContain(String(e.details.serverTime));
  const exp = await fails("expired order", submit({ expiresAt: Math.floor(Date.now() / 1000) - 5 }), 400, "ORDER_EXPIRED");
  expect(exp.details).toMatchObject({ reason: "expired" });
  expect(typeof exp.details.serverTime).toBe("number");
});

test("the app API: query limits, path parameter schema", async () => {
  const { token } = await seedUser(tg, "app-user");
  const lim = await fails("limit", app(tg, token, "GET", "/app/history?limit=0"), 400, "INVALID_REQUEST");
  expect(lim.details).toMatchObject({ reason: "limit", min: 1, max: 100 });
  const bad = await fetch(`${tg.url}/app/sessions/${"x".repeat(100)}`, { headers: { authorization: `Bearer ${token}` } });
  const e = await fails("params", bad.json().then((json) => ({ status: bad.status, json })), 400, "INVALID_REQUEST");
  expect(e.details.reason).toBe("schema");
  expect(e.details.fields).toEqual(["path.id"]);
});

test("every 400 seen carries details.reason and a message beyond the code's default", () => {
  const fourHundreds = seen.filter((s) => s.status === 400);
  expect(fourHundreds.length).toBeGreaterThanOrEqual(12);
  for (const s of seen) {
    expect({ what: s.what, reason: typeof s.error.details?.reason }).toEqual({ what: s.what, reason: "string" });
    expect({ what: s.what, same: s.error.message === ERRORS[s.error.code][1] }).toEqual({ what: s.what, same: false });
  }
});
