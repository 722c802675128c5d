// The session flow end to end up to `confirmed` (issue 5), against the real server, WebSocket and peer kit.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance, WsClient } from "../helpers/wallet";
import { dbDigestOf, dbRow } from "../helpers/inspect";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { TestPeer } from "../peers/kit";

let tg: PortTestGateway;
let merchant: TestPeer;
let other: TestPeer;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 1000 }, { clock: now });
  merchant = await startMerchant(tg, 500);
  other = await startMerchant(tg, 501);
  // Deliveries of our proofs must end (a 404 here was retried with backoff, writing to the database in the middle
  // of later tests' "nothing changed" digests: the SESSION_NOT_FOUND flake under load).
  for (const m of [merchant, other]) m.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
});
afterAll(async () => {
  await merchant.stop();
  await other.stop();
  await tg.close();
});
afterEach(async () => {
  offset.s = 0;
  await assertPortLedgerBalanced(tg);
});

let userSeq = 0;
async function newUser(credit = "USD:100.00") {
  const { user, token } = await seedUser(tg, `u${++userSeq}`, credit);
  return { user, token };
}
async function pay(token: string) {
  const r = await app(tg, token, "POST", "/app/pay", {});
  expect(r.status).toBe(200);
  return r.json as { sessionId: string; qrPayload: any; qrText: string; qrCode: string; expiresAt: number };
}

test("happy path: pay → QR → submit → WS prompt → status polled → confirm → debit and outbox job", async () => {
  const { user, token } = await newUser();
  const ws = await WsClient.open(tg, { token });
  const s = await pay(token);
  expect(s.sessionId).toMatch(/^[0-9a-f]{32}$/);
  expect(s.qrText).toBe(`{"ocid":200,"order":"${tg.gw.config.endpoint}/orders/create/${s.sessionId}","expiresAt":${s.expiresAt}}`);
  expect(s.qrPayload).toEqual(JSON.parse(s.qrText));
  expect(s.qrCode.startsWith("data:image/png;base64,")).toBe(true);
  expect(s.expiresAt - now()).toBeGreaterThanOrEqual(299);

  const order = orderFor(merchant, tg, { amount: "25.00" });
  const r = await submitOrder(merchant, tg, s.sessionId, order, { urls: { order: ["https://merchant.example/o/1"] } });
  expect(r.status).toBe(200);
  expect(r.text).toBe(JSON.stringify({ urls: { status: `${tg.gw.config.endpoint}/orders/${order.id}/status` } }));
  expect(r.responseSignatureValid).toBe(true);

  const prompt = await ws.next((m) => m.type === "payment_request");
  expect(prompt.sessionId).toBe(s.sessionId);
  expect(prompt.order).toEqual(order);
  expect(prompt.merchant).toEqual({ ocid: 500, name: "Merchant 500", host: new URL(merchant.endpoint).host });

  const statusPath = `/opencharge/orders/${order.id}/status`;
  let st = await merchant.call(tg.url, "GET", statusPath);
  expect(st.status).toBe(200);
  expect(st.responseSignatureValid).toBe(true);
  expect(st.json.status).toBe("awaiting_confirmation");
  expect(st.json.order).toEqual({ id: order.id, ocid: 500, amount: "25.00", currency: "USD" });

  const view = await app(tg, token, "GET", `/app/sessions/${s.sessionId}`);
  expect(view.json.sessionStatus).toBe("used");
  expect(view.json.status).toBe("awaiting_confirmation");

  const c = await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {});
  expect(c.status).toBe(200);
  expect(c.json.status).toBe("confirmed");
  const upd = await ws.next((m) => m.type === "payment_update" && m.status === "confirmed");
  expect(upd.sessionId).toBe(s.sessionId);
  st = await merchant.call(tg.url, "GET", statusPath);
  expect(["confirmed", "paid"]).toContain(st.json.status);

  expect(await portBalance(tg, `user:${user.id}`)).toBe(7500n);
  const job = await dbRow<any>(tg, "SELECT j.* FROM jobs j JOIN orders o ON o.id = j.order_id WHERE o.session_id = ?", s.sessionId);
  expect(job.kind).toBe("settle");
  expect(JSON.parse(job.candidates_json)).toEqual([{ type: "direct" }]);
  const me = await app(tg, token, "GET", "/app/me");
  expect(me.json.balances).toEqual([
    { currency: "EUR", amount: "0.00" },
    { currency: "USD", amount: "75.00" },
  ]);
  ws.close();
  // Background work this test started (settlement, the proof's delivery) ends here, not during the next test.
  await waitFor(async () => {
    const o = await dbRow<{ status: string; state: string }>(
      tg,
      "SELECT o.status, d.state FROM orders o LEFT JOIN deliveries d ON d.order_id = o.id WHERE o.session_id = ?",
      s.sessionId,
    );
    return o?.status === "paid" && o.state === "delivered";
  });
});

async function waitFor(pred: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("background work did not finish");
    await Bun.sleep(20);
  }
}

describe("submit errors: exact status and code, nothing changed in the database", () => {
  async function expectError(run: () => Promise<{ status: number; json: any }>, status: number, code: string) {
    // "Nothing changed" is only meaningful with no background work in flight (issue 23 item 10: a delivery
    // retried behind the digest's back made this flake under load).
    expect((await dbRow<{ n: number }>(tg, "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') + (SELECT COUNT(*) FROM jobs WHERE state = 'pending') AS n"))!.n).toBe(0);
    const before = await dbDigestOf(tg);
    const r = await run();
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(await dbDigestOf(tg)).toBe(before);
    return r;
  }

  test("SESSION_NOT_FOUND for malformed and unknown ids", async () => {
    await expectError(() => submitOrder(merchant, tg, "nothex", orderFor(merchant, tg)), 404, "SESSION_NOT_FOUND");
    await expectError(() => submitOrder(merchant, tg, "0".repeat(32), orderFor(merchant, tg)), 404, "SESSION_NOT_FOUND");
  });

  test("SESSION_EXPIRED", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    offset.s = 301;
    await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { expiresAt: now() + 3600 }), { timestamp: now() }), 404, "SESSION_EXPIRED");
  });

  test("SESSION_USED after a successful submit and after a cancel", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))).status).toBe(200);
    await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg)), 410, "SESSION_USED");
    const s2 = await pay(token);
    expect((await app(tg, token, "POST", `/app/decline/${s2.sessionId}`, {})).json.status).toBe("cancelled");
    await expectError(() => submitOrder(merchant, tg, s2.sessionId, orderFor(merchant, tg)), 410, "SESSION_USED");
  });

  test("UNAUTHORIZED when order.ocid is not the caller (another merchant's signed order replayed)", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    const foreign = orderFor(other, tg);
    await expectError(() => submitOrder(merchant, tg, s.sessionId, foreign, { signature: other.signOrder(foreign) }), 403, "UNAUTHORIZED");
  });

  test("INVALID_SIGNATURE (400) for an order signed with another key", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    const order = orderFor(merchant, tg);
    await expectError(() => submitOrder(merchant, tg, s.sessionId, order, { signature: other.signOrder(order) }), 400, "INVALID_SIGNATURE");
  });

  test("ORDER_EXPIRED, INVALID_AMOUNT, SETTLEMENT_NOT_SUPPORTED (currency, no_path)", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { expiresAt: now() - 1 })), 400, "ORDER_EXPIRED");
    await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "1.234" })), 400, "INVALID_AMOUNT");
    await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "0.00" })), 400, "INVALID_AMOUNT");
    const cur = await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { currency: "JPY", amount: "100" })), 400, "SETTLEMENT_NOT_SUPPORTED");
    expect(cur.json.error.details).toEqual({ reason: "currency", currency: "JPY", accepted: tg.gw.config.currencies.enabled.toSorted() });
    const np = await expectError(() => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { accepts: [999] })), 400, "SETTLEMENT_NOT_SUPPORTED");
    expect(np.json.error.details).toMatchObject({ reason: "no_path", accepts: [999], currency: "USD" });
    expect(np.json.error.details.acceptedOcids).toContain(tg.gw.config.ocid);
    expect(np.json.error.message).toStartWith("Cannot settle with merchant");
  });

  test("INVALID_REQUEST for schema violations, with field paths", async () => {
    const { token } = await newUser();
    const s = await pay(token);
    const bad = orderFor(merchant, tg, { amount: 25 });
    const r = await expectError(() => submitOrder(merchant, tg, s.sessionId, bad), 400, "INVALID_REQUEST");
    expect(r.json.error.details.fields).toContain("order.amount");
    const items = orderFor(merchant, tg);
    (items.items as any[])[1].quantity = 0;
    const r2 = await expectError(() => submitOrder(merchant, tg, s.sessionId, items), 400, "INVALID_REQUEST");
    expect(r2.json.error.details.fields).toContain("order.items[1].quantity");
    await expectError(() => merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { raw: "{not json" }), 400, "INVALID_REQUEST");
    await expectError(() => merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { raw: "[1,2]" }), 400, "INVALID_REQUEST");
    const noUrls = orderFor(merchant, tg);
    await expectError(() => merchant.call(tg.url, "POST", `/opencharge/orders/create/${s.sessionId}`, { order: noUrls, signature: merchant.signOrder(noUrls) }), 400, "INVALID_REQUEST");
  });

  test("ORDER_ALREADY_EXISTS keeps the second session pending; after a decline the id may be reused", async () => {
    const { token } = await newUser();
    const s1 = await pay(token);
    const s2 = await pay(token);
    const order = orderFor(merchant, tg);
    expect((await submitOrder(merchant, tg, s1.sessionId, order)).status).toBe(200);
    await expectError(() => submitOrder(merchant, tg, s2.sessionId, order), 409, "ORDER_ALREADY_EXISTS");
    expect((await tg.gw.store.read((tx) => tx.sessions.get(s2.sessionId)))!.status).toBe("pending");
    expect((await app(tg, token, "POST", `/app/decline/${s1.sessionId}`, {})).json.status).toBe("declined");
    expect((await submitOrder(merchant, tg, s2.sessionId, order)).status).toBe(200);
  });
});

test("20 concurrent submits to one session: exactly one 200 and 19 SESSION_USED", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  const results = await Promise.all(Array.from({ length: 20 }, () => submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))));
  const codes = results.map((r) => (r.status === 200 ? "OK" : r.json.error.code));
  expect(codes.filter((c) => c === "OK").length).toBe(1);
  expect(codes.filter((c) => c === "SESSION_USED").length).toBe(19);
  expect((await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM orders WHERE session_id = ?", s.sessionId))!.n).toBe(1);
});

test("20 concurrent confirms debit once", async () => {
  const { user, token } = await newUser("USD:30.00");
  const s = await pay(token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "25.00" }))).status).toBe(200);
  const rs = await Promise.all(Array.from({ length: 20 }, () => app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})));
  expect(rs.every((r) => r.status === 200)).toBe(true);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(500n);
  const debits = (await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM ledger_entries WHERE account = ? AND delta < 0", `user:${user.id}`))!.n;
  expect(debits).toBe(1);
});

test("confirm with insufficient funds → 402, balances and order unchanged; top-up then confirm works", async () => {
  const { user, token } = await newUser("USD:10.00");
  const s = await pay(token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "25.00" }))).status).toBe(200);
  const before = await dbDigestOf(tg);
  const r = await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {});
  expect(r.status).toBe(402);
  expect(r.json.error.code).toBe("INSUFFICIENT_FUNDS");
  expect(await dbDigestOf(tg)).toBe(before);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(1000n);
  await tg.gw.store.transaction((tx) =>
    tx.ledger.move({ from: "funding", to: `user:${user.id}`, currency: "USD", amount: 2000n, reason: "funding", now: now() }),
  );
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).json.status).toBe("confirmed");
  expect(await portBalance(tg, `user:${user.id}`)).toBe(500n);
});

test("orders nobody answers expire at the confirmation window, without a debit", async () => {
  const { user, token } = await newUser();
  const ws = await WsClient.open(tg, { token });
  const s = await pay(token);
  const order = orderFor(merchant, tg, { expiresAt: now() + 60 });
  expect((await submitOrder(merchant, tg, s.sessionId, order)).status).toBe(200);
  offset.s = 61;
  const st = await merchant.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`, undefined, { timestamp: now() });
  expect(st.json.status).toBe("expired");
  await ws.next((m) => m.type === "payment_update" && m.status === "expired");
  const c = await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {});
  expect(c.status).toBe(409);
  expect(c.json.error).toEqual({ code: "INVALID_STATE", message: "Not allowed while expired", details: { status: "expired" } });
  expect(await portBalance(tg, `user:${user.id}`)).toBe(10000n);
  ws.close();
});

test("replacer-form order signature: accepted and recorded; tampered item price accepted, tampered amount rejected", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  const order = orderFor(merchant, tg);
  const sig = merchant.signOrder(order, "replacer");
  const tampered = structuredClone(order);
  (tampered.items as any[])[0].price = "0.01"; // not covered by the replacer form: display-only, so harmless
  expect((await submitOrder(merchant, tg, s.sessionId, tampered, { signature: sig })).status).toBe(200);
  expect((await dbRow<{ sig_form: string }>(tg, "SELECT sig_form FROM orders WHERE session_id = ?", s.sessionId))!.sig_form).toBe("replacer");
  const s2 = await pay(token);
  const order2 = orderFor(merchant, tg);
  const sig2 = merchant.signOrder(order2, "replacer");
  const r = await submitOrder(merchant, tg, s2.sessionId, { ...order2, amount: "0.01" }, { signature: sig2 });
  expect(r.status).toBe(400);
  expect(r.json.error.code).toBe("INVALID_SIGNATURE");
});

test("WebSocket: prompt re-sent after reconnect, several tabs receive it, decline over WS", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  const order = orderFor(merchant, tg);
  expect((await submitOrder(merchant, tg, s.sessionId, order)).status).toBe(200);
  const tab1 = await WsClient.open(tg, { token });
  const tab2 = await WsClient.open(tg, { token, header: true });
  for (const t of [tab1, tab2]) expect((await t.next((m) => m.type === "payment_request")).sessionId).toBe(s.sessionId);
  tab1.send({ type: "ping", ts: 42 });
  expect(await tab1.next((m) => m.type === "pong")).toEqual({ type: "pong", ts: 42 });
  tab1.send({ type: "decline", sessionId: s.sessionId, ref: "r1" });
  expect(await tab1.next((m) => m.type === "result")).toEqual({ type: "result", ref: "r1", sessionId: s.sessionId, status: "declined" });
  expect((await tab2.next((m) => m.type === "payment_update")).status).toBe("declined");
  tab1.send("not json");
  expect((await tab1.next((m) => m.type === "error")).code).toBe("INVALID_REQUEST");
  tab1.close();
  tab2.close();
  const tab3 = await WsClient.open(tg, { token });
  await Bun.sleep(50);
  expect(tab3.messages.filter((m) => m.type === "payment_request")).toEqual([]);
  tab3.close();
});

test("WebSocket: bad token closes with 4401; confirm over WS", async () => {
  const bad = await WsClient.open(tg);
  bad.send({ type: "auth", token: "f".repeat(64) });
  expect((await bad.next((m) => m.type === "error")).code).toBe("INVALID_TOKEN");
  expect((await bad.waitClose()).code).toBe(4401);
  const { token } = await newUser();
  const s = await pay(token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))).status).toBe(200);
  const ws = await WsClient.open(tg, { token });
  ws.send({ type: "confirm", sessionId: s.sessionId, ref: 7 });
  expect((await ws.next((m) => m.type === "result")).status).toBe("confirmed");
  ws.close();
});

test("two users cannot see or confirm each other's sessions", async () => {
  const a = await newUser();
  const b = await newUser();
  const s = await pay(a.token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))).status).toBe(200);
  for (const [method, path] of [
    ["GET", `/app/sessions/${s.sessionId}`],
    ["POST", `/app/confirm/${s.sessionId}`],
    ["POST", `/app/decline/${s.sessionId}`],
  ] as const) {
    const r = await app(tg, b.token, method, path, method === "POST" ? {} : undefined);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe("UNAUTHORIZED");
  }
  const wsB = await WsClient.open(tg, { token: b.token });
  await Bun.sleep(50);
  expect(wsB.messages.some((m) => m.type === "payment_request" && m.sessionId === s.sessionId)).toBe(false);
  wsB.close();
  expect((await app(tg, null, "GET", "/app/me")).status).toBe(401);
  expect((await app(tg, "0".repeat(64), "GET", "/app/me")).json.error.code).toBe("INVALID_TOKEN");
});

test("status URL is scoped to the calling merchant", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  const order = orderFor(merchant, tg, { id: "INV 2024/07#1" });
  const r = await submitOrder(merchant, tg, s.sessionId, order);
  expect(r.json.urls.status).toBe(`${tg.gw.config.endpoint}/orders/INV%202024%2F07%231/status`);
  const path = "/opencharge/orders/INV%202024%2F07%231/status";
  expect((await merchant.call(tg.url, "GET", path)).json.order.id).toBe("INV 2024/07#1");
  const foreign = await other.call(tg.url, "GET", path);
  const missing = await other.call(tg.url, "GET", "/opencharge/orders/nope/status");
  expect(foreign.status).toBe(404);
  expect(foreign.json).toEqual(missing.json);
});

test("history lists payments and credits, newest first, with a cursor", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))).status).toBe(200);
  const h = await app(tg, token, "GET", "/app/history?limit=1");
  expect(h.status).toBe(200);
  expect(h.json.items.length).toBe(1);
  expect(h.json.items[0].kind).toBe("payment");
  const h2 = await app(tg, token, "GET", `/app/history?limit=1&before=${h.json.nextBefore}`);
  expect(h2.json.items[0].kind).toBe("credit");
  expect(h2.json.items[0].amount).toBe("100.00");
  expect((await app(tg, token, "GET", "/app/history?limit=0")).status).toBe(400);
});

test("WebSocket: at most 5 sockets per user — the oldest is closed with 4000; frames over 4 KiB close with 1009", async () => {
  const { token } = await newUser();
  const socks: WsClient[] = [];
  for (let i = 0; i < 6; i++) socks.push(await WsClient.open(tg, { token }));
  expect((await socks[0]!.waitClose()).code).toBe(4000);
  for (const s of socks.slice(1)) expect(s.closed).toBeNull();
  socks[1]!.send({ type: "ping", pad: "x".repeat(5000) });
  expect((await socks[1]!.waitClose()).code).toBe(1009);
  for (const s of socks.slice(2)) s.close();
});

test("the session QR is also served as SVG to its owner only", async () => {
  const a = await newUser();
  const b = await newUser();
  const s = await pay(a.token);
  const res = await fetch(`${tg.url}/app/sessions/${s.sessionId}/qr.svg`, { headers: { authorization: `Bearer ${a.token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/svg+xml");
  expect(await res.text()).toStartWith("<svg");
  expect((await app(tg, b.token, "GET", `/app/sessions/${s.sessionId}/qr.svg`)).status).toBe(403);
});

test("WebSocket: a token rotated after the socket opened can no longer confirm over that socket", async () => {
  const { user, token } = await newUser();
  const s = await pay(token);
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg))).status).toBe(200);
  const ws = await WsClient.open(tg, { token });
  await tg.gw.store.transaction((tx) => tx.users.rotateToken(user.id, now()));
  ws.send({ type: "confirm", sessionId: s.sessionId });
  expect((await ws.next((m) => m.type === "error")).code).toBe("INVALID_TOKEN");
  expect((await ws.waitClose()).code).toBe(4401);
  expect((await tg.gw.store.read((tx) => tx.orders.bySession(s.sessionId)))!.status).toBe("awaiting_confirmation");
});

test("submit records its nonce inside the claiming transaction: concurrent replays get NONCE_REUSED, and so does a replay of a failed submit", async () => {
  const { token } = await newUser();
  const s = await pay(token);
  const order = orderFor(merchant, tg);
  const body = { order, signature: merchant.signOrder(order), urls: {} };
  const path = `/opencharge/orders/create/${s.sessionId}`;
  const rs = await Promise.all(Array.from({ length: 10 }, () => merchant.call(tg.url, "POST", path, body, { nonce: "submit-replay-1" })));
  expect(rs.filter((r) => r.status === 200).length).toBe(1);
  expect(rs.filter((r) => r.json?.error?.code === "NONCE_REUSED").length).toBe(9);
  // A submit that fails inside the transaction (the session is used now) still burns its nonce.
  const failed = await merchant.call(tg.url, "POST", path, { ...body, order: orderFor(merchant, tg) }, { nonce: "submit-replay-2" });
  expect(failed.json.error.code).toBe("SESSION_USED");
  const again = await merchant.call(tg.url, "POST", path, { ...body, order: orderFor(merchant, tg) }, { nonce: "submit-replay-2" });
  expect(again.json.error.code).toBe("NONCE_REUSED");
  expect((await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM nonces WHERE nonce = ?", "submit-replay-2"))!.n).toBe(1);
});
