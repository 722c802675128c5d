// Issue 13: pay by scanning. Real gateway on loopback, merchants that behave like the docs' POS display, vending
// machine and printed sticker (their own keys, orders and proof checks), the app API over HTTP and the WebSocket.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance, WsClient } from "../helpers/wallet";
import { dbDigestOf, dbRow } from "../helpers/inspect";
import { startPosMerchant, startVendingMerchant } from "../helpers/scan-merchants";
import { startMerchant } from "../helpers/merchant";
import { makeOrder, TestPeer } from "../peers/kit";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ScanResponseSchema } from "../../src/app/scan-schemas";
import { SessionViewResponse } from "../../src/app/schemas";

/** Every 200 of the scan routes and every scan session view answers its published schema. */
const scanShape = TypeCompiler.Compile(ScanResponseSchema);
const viewShape = TypeCompiler.Compile(SessionViewResponse);
function conforms(check: typeof scanShape | typeof viewShape, v: unknown) {
  expect([...check.Errors(v)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
}

let tg: PortTestGateway;
let pos: Awaited<ReturnType<typeof startPosMerchant>>;
let vend: Awaited<ReturnType<typeof startVendingMerchant>>;
let sticker: Awaited<ReturnType<typeof startPosMerchant>>;
let stranger: TestPeer; // another merchant whose orders must not pass as the POS's
let bystander: ReturnType<typeof Bun.serve>; // a host no scan may contact
let bystanderHits = 0;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, currencies: { enabled: ["USD", "EUR", "UGX"], extra: {} } }, { clock: now });
  pos = await startPosMerchant(tg, 510, "Corner Café");
  vend = await startVendingMerchant(tg, 530, "Vendo Snacks");
  sticker = await startPosMerchant(tg, 520, "Market Stall");
  sticker.peer.settlement.currencies.push("UGX");
  stranger = await startMerchant(tg, 511, { name: "Other Shop" });
  bystander = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (bystanderHits++, Response.json({ hello: "world" })) });
});
afterAll(async () => {
  for (const p of [pos.peer, vend.peer, sticker.peer, stranger]) await p.stop();
  bystander.stop(true);
  await tg.close();
});
afterEach(async () => {
  offset.s = 0;
  await assertPortLedgerBalanced(tg);
});

let seq = 0;
const newUser = (credit = "USD:100.00") => seedUser(tg, `scan${++seq}`, credit, "UGX:100000");
async function scan(token: string, body: Record<string, unknown>) {
  const r = await app(tg, token, "POST", "/app/scan", body);
  if (r.status === 200) {
    conforms(scanShape, r.json);
    conforms(viewShape, (await app(tg, token, "GET", `/app/sessions/${r.json.sessionId}`)).json);
  }
  return r;
}
const digest = () => dbDigestOf(tg, ["nonces", "metadata_cache", "peer_dialects", "sqlite_sequence", "scheduler_lease", "health_probe"]);

async function statusOf(merchant: TestPeer, orderId: string) {
  return (await merchant.call(tg.url, "GET", `/opencharge/orders/${encodeURIComponent(orderId)}/status`)).json;
}
async function waitPaid(merchant: TestPeer, orderId: string) {
  for (let i = 0; i < 200; i++) {
    const st = await statusOf(merchant, orderId);
    if (st?.status === "paid" && st.delivery?.state === "delivered") return st;
    await Bun.sleep(25);
  }
  throw new Error(`order ${orderId} not paid+delivered: ${JSON.stringify(await statusOf(merchant, orderId))}`);
}

/** Confirms over HTTP or over the WebSocket; both must end in `paid`. */
async function confirmVia(channel: "http" | "ws", token: string, sessionId: string) {
  if (channel === "http") {
    const c = await app(tg, token, "POST", `/app/confirm/${sessionId}`, {});
    expect(c.status).toBe(200);
    expect(c.json.status).toBe("confirmed");
    return;
  }
  const ws = await WsClient.open(tg, { token });
  ws.send({ type: "confirm", sessionId, ref: "c1" });
  const r = await ws.next((m) => m.type === "result" && m.ref === "c1");
  expect(r).toMatchObject({ sessionId, status: "confirmed" });
  const paid = await ws.next((m) => m.type === "payment_update" && m.sessionId === sessionId && m.status === "paid", 8000);
  expect(paid.txid).toMatch(/^tx_[0-9a-f]{32}$/);
  ws.close();
}

/** A refused scan: the right code and status, and not one row written anywhere. */
async function refused(token: string, body: Record<string, unknown>, status: number, code: string, path = "/app/scan") {
  const before = await digest();
  const r = await app(tg, token, "POST", path, body);
  expect([r.status, r.json?.error?.code, r.json?.error?.message]).toEqual([status, code, expect.any(String)]);
  expect(r.text).not.toContain("    at ");
  expect(await digest()).toBe(before);
  return r.json.error;
}

describe("order QR (POS display)", () => {
  for (const channel of ["http", "ws"] as const)
    test(`scan → preview → confirm over ${channel} → paid; the POS verifies our proof (to.reference = its order id)`, async () => {
      const { user, token } = await newUser();
      const { order, qr } = pos.show({ amount: "12.40", reference: "TABLE-7" });
      const gets = pos.orderGets().length;
      const r = await scan(token, { qrContent: qr + "\n" });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        sessionId: expect.stringMatching(/^[0-9a-f]{32}$/),
        kind: "order",
        merchant: { ocid: 510, name: "Corner Café", host: new URL(pos.peer.endpoint).host },
        order,
        expiresAt: expect.any(Number),
      });
      expect(r.json.expiresAt).toBeLessThanOrEqual(now() + 600);
      // One signed GET, verified by the merchant's own code as coming from this gateway.
      const got = pos.orderGets().slice(gets);
      expect(got.length).toBe(1);
      expect(got[0]!.authentic).toBe(true);
      expect(got[0]!.headers.get("x-oc-id")).toBe("200");

      const view = await app(tg, token, "GET", `/app/sessions/${r.json.sessionId}`);
      expect(view.json).toMatchObject({ kind: "scan", sessionStatus: "used", status: "awaiting_confirmation", order, scan: { kind: "order" } });
      // The merchant can follow its order like a submitted one.
      expect((await statusOf(pos.peer, order.id as string)).status).toBe("awaiting_confirmation");

      await confirmVia(channel, token, r.json.sessionId);
      const st = await waitPaid(pos.peer, order.id as string);
      expect(st.proof.to).toEqual({ ocid: 510, reference: order.id });
      expect(st.proof.from).toEqual({ ocid: 200, reference: `user_${user.id}` });
      const hook = pos.webhooks.find((w) => w.proof?.txid === st.txid)!;
      expect(hook).toMatchObject({ verified: "deep", authentic: true, known: true });
      expect(await portBalance(tg, `user:${user.id}`)).toBe(10000n - 1240n);
      const hist = await app(tg, token, "GET", "/app/history");
      expect(hist.json.items[0]).toMatchObject({ kind: "payment", sessionId: r.json.sessionId, orderId: order.id, amount: "12.40", status: "paid", txid: st.txid });
    });

  test("a second scan of the same order is refused for every user while it awaits confirmation and once paid", async () => {
    const a = await newUser();
    const b = await newUser();
    const { order, qr } = pos.show({ amount: "3.00" });
    const first = await scan(a.token, { qrContent: qr });
    expect(first.status).toBe(200);
    await refused(b.token, { qrContent: qr }, 409, "ORDER_ALREADY_EXISTS");
    await refused(a.token, { qrContent: qr }, 409, "ORDER_ALREADY_EXISTS");
    await confirmVia("http", a.token, first.json.sessionId);
    await waitPaid(pos.peer, order.id as string);
    await refused(b.token, { qrContent: qr }, 409, "ORDER_ALREADY_EXISTS");
    expect(await portBalance(tg, `user:${b.user.id}`)).toBe(10000n);
  });

  test("five users scanning the same till at once: exactly one gets the order, the others 409, one order row", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser()));
    const { order, qr } = pos.show({ amount: "6.00" });
    const rs = await Promise.all(users.map((u) => app(tg, u.token, "POST", "/app/scan", { qrContent: qr })));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(await dbRow(tg, "SELECT COUNT(*) AS n FROM orders WHERE merchant_ocid = 510 AND order_id = ?", order.id as string)).toEqual({ n: 1 });
    const scans = "SELECT COUNT(*) AS n FROM scans s JOIN orders o ON o.session_id = s.session_id WHERE o.order_id = ?";
    expect(await dbRow(tg, scans, order.id as string)).toEqual({ n: 1 });
  });

  test("a frozen user cannot scan or order from an inventory", async () => {
    const { user, token } = await newUser();
    const inv = await scan(token, { qrContent: vend.qr });
    await tg.gw.store.transaction((tx) => tx.users.setFrozen(user.id, now()));
    try {
      await refused(token, { qrContent: pos.show().qr }, 403, "ACCOUNT_FROZEN");
      await refused(token, { items: [{ id: "cola", quantity: 1 }] }, 403, "ACCOUNT_FROZEN", `/app/scan/${inv.json.sessionId}/order`);
    } finally {
      await tg.gw.store.transaction((tx) => tx.users.setFrozen(user.id, null));
    }
  });

  test("after a decline the same order can be scanned again (§7.4); decline and confirm answer as for submitted orders", async () => {
    const a = await newUser();
    const { qr } = pos.show({ amount: "4.00" });
    const first = await scan(a.token, { qrContent: qr });
    const d = await app(tg, a.token, "POST", `/app/decline/${first.json.sessionId}`, {});
    expect(d.json).toEqual({ status: "declined" });
    const c = await app(tg, a.token, "POST", `/app/confirm/${first.json.sessionId}`, {});
    expect([c.status, c.json.error.code, c.json.error.details]).toEqual([409, "INVALID_STATE", { status: "declined" }]);
    const again = await scan((await newUser()).token, { qrContent: qr });
    expect(again.status).toBe(200);
    expect(again.json.sessionId).not.toBe(first.json.sessionId);
  });

  test("insufficient funds: 402 on confirm, the order keeps waiting, nothing debited", async () => {
    const { user, token } = await newUser("USD:1.00");
    const { qr } = pos.show({ amount: "9.00" });
    const r = await scan(token, { qrContent: qr });
    const c = await app(tg, token, "POST", `/app/confirm/${r.json.sessionId}`, {});
    expect([c.status, c.json.error.code]).toEqual([402, "INSUFFICIENT_FUNDS"]);
    expect(await portBalance(tg, `user:${user.id}`)).toBe(100n);
    expect((await app(tg, token, "GET", `/app/sessions/${r.json.sessionId}`)).json.status).toBe("awaiting_confirmation");
  });

  test("merchant-side refusals: expired code or order, other currency, no settlement path", async () => {
    const { token } = await newUser();
    expect((await refused(token, { qrContent: pos.show({}, now() - 5).qr }, 400, "CODE_EXPIRED")).details.expiresAt).toBeLessThan(now());
    await refused(token, { qrContent: pos.show({ createdAt: now() - 100, expiresAt: now() - 1 }, null).qr }, 400, "ORDER_EXPIRED");
    expect((await refused(token, { qrContent: pos.show({ currency: "GBP" }).qr }, 400, "SETTLEMENT_NOT_SUPPORTED")).details).toMatchObject({ reason: "currency" });
    expect((await refused(token, { qrContent: pos.show({ accepts: [999] }).qr }, 400, "SETTLEMENT_NOT_SUPPORTED")).details).toMatchObject({ reason: "no_path", accepts: [999] });
    await refused(token, { qrContent: pos.show({ amount: "1.001" }).qr }, 400, "INVALID_AMOUNT");
  });

  test("a tampered order, one re-signed with another key, or another merchant's order is refused", async () => {
    const { token } = await newUser();
    const t = pos.show({ amount: "5.00" });
    pos.special.set(t.order.id as string, () => ({ body: { ...t.signed, order: { ...t.order, amount: "0.50" } } }));
    expect((await refused(token, { qrContent: t.qr }, 400, "INVALID_SIGNATURE")).message).toStartWith("Invalid order signature");

    // An order signed over the replacer canonical form is a dialect we accept (docs/protocol.md §5).
    const rep = pos.show({ amount: "5.00" });
    pos.special.set(rep.order.id as string, () => ({ body: { ...rep.signed, signature: pos.peer.signOrder(rep.order, "replacer") } }));
    const ok = await scan(token, { qrContent: rep.qr });
    expect([ok.status, ok.json.order]).toEqual([200, rep.order]);
    expect(await dbRow(tg, "SELECT sig_form FROM orders WHERE session_id = ?", ok.json.sessionId)).toEqual({ sig_form: "replacer" });

    const rs = pos.show({ amount: "5.00" });
    const impostor = TestPeer.offline({ ocid: 510 });
    pos.special.set(rs.order.id as string, () => ({ body: { ...rs.signed, signature: impostor.signOrder(rs.order) } }));
    await refused(token, { qrContent: rs.qr }, 400, "INVALID_SIGNATURE");

    const theirs = makeOrder(511, { accepts: [200] });
    const o = pos.show();
    pos.special.set(o.order.id as string, () => ({ body: { order: theirs, signature: stranger.signOrder(theirs), urls: {} } }));
    expect((await refused(token, { qrContent: o.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details).toEqual({ reason: "ocid_mismatch" });

    const m = pos.show();
    pos.special.set(m.order.id as string, () => ({ body: { order: { ...m.order, amount: 25 }, signature: m.signed.signature } }));
    const e = await refused(token, { qrContent: m.qr }, 502, "MERCHANT_RESPONSE_INVALID");
    expect(e.details).toEqual({ reason: "schema", fields: ["order.amount"] });
  });

  test("order URLs outside the merchant's registered endpoint are refused without sending anything", async () => {
    const { token } = await newUser();
    const ep = pos.peer.endpoint;
    const port = new URL(ep).port;
    const bystanderUrl = `http://127.0.0.1:${bystander.port}`;
    const before = pos.peer.received.length;
    const hits = bystanderHits;
    for (const url of [
      `${bystanderUrl}/opencharge/orders/x1`, // another host (port) on an allow-listed address
      `http://10.1.2.3:${port}/opencharge/orders/x1`, // a private address
      `http://[::1]:${port}/opencharge/orders/x1`,
      `http://127.0.0.1:${port}@127.0.0.1:${bystander.port}/opencharge/orders/x1`, // userinfo trick
      `${ep}/../orders/x1`,
      `${ep}/%2e%2e/evil`,
      `${ep.replace("/opencharge", "/opencharge-evil")}/orders/x1`,
      `https://merchant.example/opencharge/orders/x1`,
    ]) {
      const e = await refused(token, { qrContent: JSON.stringify({ ocid: 510, order: url, expiresAt: now() + 60 }) }, 400, "ORDER_URL_REFUSED");
      expect(e.details).toEqual({ reason: "outside_endpoint", endpointHost: new URL(ep).host });
    }
    expect(pos.peer.received.length).toBe(before);
    expect(bystanderHits).toBe(hits);
  });

  test("a redirect from the merchant is not followed; huge, slow, unsigned-wrong and failing answers are refused", async () => {
    const { token } = await newUser();
    const hits = bystanderHits;
    const r = pos.show();
    pos.special.set(r.order.id as string, () => ({ status: 302, headers: { location: `http://127.0.0.1:${bystander.port}/order.json` } }));
    expect((await refused(token, { qrContent: r.qr }, 502, "MERCHANT_UNAVAILABLE")).details).toEqual({ reason: "redirect", status: 302 });
    expect(bystanderHits).toBe(hits);

    const huge = pos.show();
    pos.special.set(huge.order.id as string, () => ({ body: { ...huge.signed, pad: "x".repeat(100 * 1024) } }));
    expect((await refused(token, { qrContent: huge.qr }, 502, "MERCHANT_UNAVAILABLE")).details).toEqual({ reason: "too_large" });

    const bad = pos.show();
    pos.special.set(bad.order.id as string, () => ({ body: bad.signed, headers: { "X-OC-Signature": "00".repeat(64) } }));
    expect((await refused(token, { qrContent: bad.qr }, 502, "MERCHANT_UNAVAILABLE")).details).toEqual({ reason: "response_signature" });

    const gone = pos.show();
    pos.shown.delete(gone.order.id as string);
    expect((await refused(token, { qrContent: gone.qr }, 502, "MERCHANT_UNAVAILABLE")).details).toEqual({ reason: "http_status", status: 404 });

    const junk = pos.show();
    pos.special.set(junk.order.id as string, () => ({ rawBody: "<html>hi</html>" }));
    expect((await refused(token, { qrContent: junk.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details).toEqual({ reason: "malformed_json" });

    const slow = pos.show();
    pos.special.set(slow.order.id as string, () => ({ body: slow.signed, delayMs: 7000 }));
    const t0 = Date.now();
    expect((await refused(token, { qrContent: slow.qr }, 502, "MERCHANT_UNAVAILABLE")).details).toEqual({ reason: "timeout" });
    expect(Date.now() - t0).toBeLessThan(6500);
  }, 20_000);
});

describe("inventory QR (vending machine)", () => {
  for (const channel of ["http", "ws"] as const)
    test(`scan → pick within min/max → signed order from /orders/create → confirm over ${channel} → paid`, async () => {
      const { user, token } = await newUser();
      const r = await scan(token, { qrContent: vend.qr });
      expect(r.status).toBe(200);
      expect(r.json.kind).toBe("inventory");
      expect(r.json.merchant).toEqual({ ocid: 530, name: "Vendo Snacks", host: new URL(vend.peer.endpoint).host });
      expect(r.json.inventory).toEqual({
        name: "Snack machine #4",
        currency: "USD",
        items: [
          { id: "cola", name: "Cola 330 ml", price: "1.50", currency: "USD", min_qty: 1, max_qty: 3, available: true },
          { id: "chips", name: "Salted chips", price: "2.25", currency: "USD", min_qty: 1, max_qty: 2, available: true },
          { id: "water", name: "Still water", price: "1.00", currency: "USD", min_qty: 2, max_qty: 6, available: true },
          { id: "gum", name: "Mint gum", price: "0.75", currency: "USD", min_qty: 1, max_qty: 10, available: false },
        ],
      });
      const view = await app(tg, token, "GET", `/app/sessions/${r.json.sessionId}`);
      expect(view.json).toMatchObject({ kind: "scan", sessionStatus: "pending", order: null, scan: { kind: "inventory", inventory: r.json.inventory }, merchant: { ocid: 530 } });

      const o = await app(tg, token, "POST", `/app/scan/${r.json.sessionId}/order`, { items: [{ id: "cola", quantity: 2 }, { id: "water", quantity: 2 }] });
      expect(o.status).toBe(200);
      conforms(scanShape, o.json);
      conforms(viewShape, (await app(tg, token, "GET", `/app/sessions/${r.json.sessionId}`)).json);
      expect(o.json).toMatchObject({ sessionId: r.json.sessionId, kind: "order", merchant: { ocid: 530 }, order: { ocid: 530, amount: "5.00", currency: "USD" } });
      const req = vend.creates().at(-1)!;
      expect(req.authentic).toBe(true);
      expect(req.json).toEqual({ items: [{ id: "cola", quantity: 2 }, { id: "water", quantity: 2 }], currency: "USD" });
      const orderId = o.json.order.id as string;
      expect(vend.created.get(orderId)!.order).toEqual(o.json.order);

      await confirmVia(channel, token, r.json.sessionId);
      const st = await waitPaid(vend.peer, orderId);
      expect(st.proof.to).toEqual({ ocid: 530, reference: orderId });
      expect(vend.webhooks.find((w) => w.proof?.txid === st.txid)).toMatchObject({ verified: "deep", authentic: true, known: true });
      expect(await portBalance(tg, `user:${user.id}`)).toBe(9500n);
      // The session took its one order.
      await refused(token, { items: [{ id: "cola", quantity: 1 }] }, 409, "INVALID_STATE", `/app/scan/${r.json.sessionId}/order`);
    });

  test("picks outside the inventory are refused before the merchant is called", async () => {
    const { token } = await newUser();
    const r = await scan(token, { qrContent: vend.qr });
    const path = `/app/scan/${r.json.sessionId}/order`;
    const calls = vend.creates().length;
    expect((await refused(token, { items: [{ id: "cola", quantity: 4 }] }, 400, "INVALID_REQUEST", path)).details).toEqual({ fields: ["items[0].quantity"] });
    expect((await refused(token, { items: [{ id: "water", quantity: 1 }] }, 400, "INVALID_REQUEST", path)).message).toBe("Quantity of Still water must be 2–6");
    await refused(token, { items: [{ id: "gum", quantity: 1 }] }, 400, "INVALID_REQUEST", path);
    await refused(token, { items: [{ id: "nope", quantity: 1 }] }, 400, "INVALID_REQUEST", path);
    await refused(token, { items: [{ id: "cola", quantity: 1 }, { id: "cola", quantity: 1 }] }, 400, "INVALID_REQUEST", path);
    await refused(token, { items: [] }, 400, "INVALID_REQUEST", path);
    await refused(token, { items: [{ id: "cola", quantity: 1.5 }] }, 400, "INVALID_REQUEST", path);
    expect(vend.creates().length).toBe(calls);
    // Another user cannot order on this session.
    await refused((await newUser()).token, { items: [{ id: "cola", quantity: 1 }] }, 403, "UNAUTHORIZED", path);
    await refused(token, { items: [{ id: "cola", quantity: 1 }] }, 404, "SESSION_NOT_FOUND", "/app/scan/0123456789abcdef0123456789abcdef/order");
  });

  test("a merchant that answers /orders/create with a different amount, other items, a tampered or re-signed order is refused", async () => {
    const { token } = await newUser();
    const r = await scan(token, { qrContent: vend.qr });
    const path = `/app/scan/${r.json.sessionId}/order`;
    const pick = { items: [{ id: "chips", quantity: 2 }] };
    try {
      vend.misbehave((s) => {
        const order = { ...s.order, amount: "5.50" }; // re-priced and properly signed
        return { body: { order, signature: vend.peer.signOrder(order), urls: {} } };
      });
      expect((await refused(token, pick, 502, "MERCHANT_RESPONSE_INVALID", path)).details).toEqual({ reason: "amount_mismatch", amount: "5.50" });
      vend.misbehave((s) => {
        const order = { ...s.order, items: [{ id: "chips", name: "Salted chips", quantity: 3, price: "1.50" }] };
        return { body: { order, signature: vend.peer.signOrder(order), urls: {} } };
      });
      expect((await refused(token, pick, 502, "MERCHANT_RESPONSE_INVALID", path)).details).toEqual({ reason: "items_mismatch" });
      vend.misbehave((s) => ({ body: { ...s, order: { ...s.order, amount: "0.01" } } }));
      await refused(token, pick, 400, "INVALID_SIGNATURE", path);
      vend.misbehave((s) => ({ body: { ...s, signature: TestPeer.offline({ ocid: 530 }).signOrder(s.order) } }));
      await refused(token, pick, 400, "INVALID_SIGNATURE", path);
      vend.misbehave((s) => ({ body: { ...s, pad: "y".repeat(80 * 1024) } }));
      expect((await refused(token, pick, 502, "MERCHANT_UNAVAILABLE", path)).details).toEqual({ reason: "too_large" });
      vend.misbehave(() => ({ status: 500, body: { error: { code: "INTERNAL_ERROR", message: "jammed" } } }));
      expect((await refused(token, pick, 502, "MERCHANT_UNAVAILABLE", path)).details).toEqual({ reason: "http_status", status: 500 });
    } finally {
      vend.misbehave(null);
    }
    // The session is still open: an honest answer now goes through.
    const ok = await app(tg, token, "POST", path, pick);
    expect([ok.status, ok.json.order.amount]).toEqual([200, "4.50"]);
  });

  test("an inventory session expires after the session TTL, and decline closes it", async () => {
    const { token } = await newUser();
    const a = await scan(token, { qrContent: vend.qr });
    offset.s = 301;
    await refused(token, { items: [{ id: "cola", quantity: 1 }] }, 404, "SESSION_EXPIRED", `/app/scan/${a.json.sessionId}/order`);
    offset.s = 0;
    const b = await scan(token, { qrContent: vend.qr });
    expect((await app(tg, token, "POST", `/app/decline/${b.json.sessionId}`, {})).json).toEqual({ status: "cancelled" });
    await refused(token, { items: [{ id: "cola", quantity: 1 }] }, 409, "INVALID_STATE", `/app/scan/${b.json.sessionId}/order`);
  });

  test("an inventory the merchant got wrong is refused", async () => {
    const { token } = await newUser();
    const saved = structuredClone(vend.inventory.items);
    try {
      vend.inventory.items.push({ id: "tea", name: "Tea", price: "1.005" });
      expect((await refused(token, { qrContent: vend.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details).toEqual({ reason: "price", fields: ["items[4].price"] });
      vend.inventory.items.pop();
      vend.inventory.items.push({ id: "tea", name: "Tea", price: "1.00", currency: "EUR" });
      expect((await refused(token, { qrContent: vend.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details).toEqual({ reason: "mixed_currencies" });
      vend.inventory.items.splice(0, vend.inventory.items.length, { id: "x", name: "X", price: "1.00", min_qty: 5, max_qty: 2 });
      expect((await refused(token, { qrContent: vend.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details).toEqual({ reason: "quantity_bounds", fields: ["items[0].max_qty"] });
      vend.inventory.items.splice(0, vend.inventory.items.length);
      expect((await refused(token, { qrContent: vend.qr }, 502, "MERCHANT_RESPONSE_INVALID")).details.reason).toBe("schema");
    } finally {
      vend.inventory.items.splice(0, vend.inventory.items.length, ...saved);
    }
  });
});

describe("opencharge: stickers", () => {
  for (const channel of ["http", "ws"] as const)
    test(`opencharge:520?amount=15000&currency=UGX&ref=order-123 → confirm over ${channel} → paid, proof to.reference = ref`, async () => {
      const { user, token } = await newUser();
      const ref = `order-${channel}-${seq}`;
      sticker.stickers.set(ref, { amount: "15000", currency: "UGX" });
      const r = await scan(token, { qrContent: `opencharge:520?amount=15000&currency=UGX&ref=${ref}` });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ kind: "payment", merchant: { ocid: 520, name: "Market Stall" }, order: { id: ref, ocid: 520, amount: "15000", currency: "UGX", reference: ref } });
      await confirmVia(channel, token, r.json.sessionId);
      const st = await waitPaid(sticker.peer, ref);
      expect(st.proof.to).toEqual({ ocid: 520, reference: ref });
      expect(sticker.webhooks.find((w) => w.proof?.txid === st.txid)).toMatchObject({ verified: "deep", known: true });
      expect(await portBalance(tg, `user:${user.id}`, "UGX")).toBe(85000n);
      // The same ref cannot be paid twice while paid.
      await refused((await newUser()).token, { qrContent: `opencharge:520?amount=15000&currency=UGX&ref=${ref}` }, 409, "ORDER_ALREADY_EXISTS");
    });

  test("opencharge:520 asks for the amount (nothing written), then pays what the user typed", async () => {
    const { user, token } = await newUser();
    const e = await refused(token, { qrContent: "opencharge:520" }, 400, "AMOUNT_REQUIRED");
    expect(e.details).toEqual({ fields: ["amount", "currency"], merchant: { ocid: 520, name: "Market Stall", host: new URL(sticker.peer.endpoint).host }, currencies: ["USD", "UGX"] });
    sticker.stickers.set("*", { amount: "7.25", currency: "USD" });
    const r = await scan(token, { qrContent: "opencharge:520", amount: "7.25", currency: "USD" });
    expect(r.status).toBe(200);
    expect(r.json.order.id).toBe(`pay_${r.json.sessionId}`);
    await confirmVia("http", token, r.json.sessionId);
    const st = await waitPaid(sticker.peer, r.json.order.id);
    expect(st.proof.to).toEqual({ ocid: 520, reference: `pay_${r.json.sessionId}` });
    expect(await portBalance(tg, `user:${user.id}`)).toBe(9275n);
  });

  test("sticker refusals: conflicting or bad amounts, unknown or own OCID, merchant without a settlement path", async () => {
    const { token } = await newUser();
    expect((await refused(token, { qrContent: "opencharge:520?amount=5&currency=USD", amount: "6" }, 400, "INVALID_REQUEST")).details).toEqual({ fields: ["amount"] });
    await refused(token, { qrContent: "opencharge:520?amount=1.234&currency=USD" }, 400, "INVALID_AMOUNT");
    await refused(token, { qrContent: "opencharge:520?amount=-1&currency=USD" }, 400, "INVALID_AMOUNT");
    await refused(token, { qrContent: "opencharge:520", amount: "0", currency: "USD" }, 400, "INVALID_AMOUNT");
    await refused(token, { qrContent: "opencharge:520?amount=1&currency=GBP" }, 400, "SETTLEMENT_NOT_SUPPORTED");
    expect((await refused(token, { qrContent: "opencharge:999?amount=1&currency=USD" }, 400, "NOT_A_MERCHANT")).details).toEqual({ reason: "unknown_ocid", ocid: 999 });
    expect((await refused(token, { qrContent: "opencharge:200?amount=1&currency=USD" }, 400, "NOT_A_MERCHANT")).details).toEqual({ reason: "own_gateway", ocid: 200 });
    // 511 accepts no one's proofs (its metadata's settlement.accepts is empty): no way to pay it.
    expect((await refused(token, { qrContent: "opencharge:511?amount=1&currency=USD" }, 400, "SETTLEMENT_NOT_SUPPORTED")).details).toMatchObject({ reason: "no_path", accepts: [] });
  });
});

describe("anything else", () => {
  test("unknown formats, malformed codes and a wallet's own pay code say what they are; nothing is written", async () => {
    const { token } = await newUser();
    const cases: [string, string, unknown][] = [
      ["hello world", "CODE_NOT_RECOGNIZED", { reason: "unknown_format" }],
      ["https://shop.example/pay", "CODE_NOT_RECOGNIZED", { reason: "unknown_format" }],
      ['{"foo":1}', "CODE_NOT_RECOGNIZED", { reason: "unknown_json" }],
      ['{"ocid":"510","order":"https://x.example/o/1","expiresAt":null}', "CODE_NOT_RECOGNIZED", { reason: "ocid" }],
      ['{"ocid":510,"order":"ftp://x.example/o/1","expiresAt":null}', "CODE_NOT_RECOGNIZED", { reason: "order" }],
      ['{"ocid":510,"inventory":"https://x.example/inv","expiresAt":"soon"}', "CODE_NOT_RECOGNIZED", { reason: "expiresAt" }],
      ["opencharge:abc", "CODE_NOT_RECOGNIZED", { reason: "uri" }],
      ["opencharge:0", "CODE_NOT_RECOGNIZED", { reason: "ocid" }],
      ["opencharge:520?currency=usd", "CODE_NOT_RECOGNIZED", { reason: "currency" }],
      ['{"ocid":999,"order":"https://x.example/orders/1","expiresAt":null}', "NOT_A_MERCHANT", { reason: "unknown_ocid", ocid: 999 }],
    ];
    for (const [qrContent, code, details] of cases) expect((await refused(token, { qrContent }, 400, code)).details).toEqual(details as any);
    const pay = await app(tg, token, "POST", "/app/pay", {});
    const other = await newUser();
    const before = await digest();
    const r = await scan(other.token, { qrContent: pay.json.qrText });
    expect([r.status, r.json.error.code, r.json.error.details]).toEqual([400, "NOT_A_MERCHANT", { reason: "wallet_pay_code" }]);
    expect(await digest()).toBe(before);
    await refused(token, { qrContent: "" }, 400, "INVALID_REQUEST");
    await refused(token, { qrContent: "x".repeat(5000) }, 400, "INVALID_REQUEST");
    await refused(token, { qrContent: 42 }, 400, "INVALID_REQUEST");
    const noAuth = await app(tg, null, "POST", "/app/scan", { qrContent: "opencharge:520" });
    expect([noAuth.status, noAuth.json.error.code]).toEqual([401, "INVALID_TOKEN"]);
  });

  test("a merchant cannot submit an order into a scan session through the protocol route", async () => {
    const { token } = await newUser();
    const r = await scan(token, { qrContent: vend.qr });
    const order = makeOrder(530, { accepts: [200] });
    const before = await digest();
    const sub = await vend.peer.call(tg.url, "POST", `/opencharge/orders/create/${r.json.sessionId}`, { order, signature: vend.peer.signOrder(order), urls: {} });
    expect([sub.status, sub.json.error.code]).toEqual([404, "SESSION_NOT_FOUND"]);
    expect(await digest()).toBe(before);
  });

  test("OpenAPI documents both scan routes with request and response schemas", async () => {
    const doc = (await app(tg, null, "GET", "/opencharge/openapi.json")).json;
    const s = doc.paths["/app/scan"].post;
    expect(s.requestBody.content["application/json"].schema.properties.qrContent.maxLength).toBe(4096);
    const [merchantCode, personCode] = s.responses["200"].content["application/json"].schema.anyOf;
    expect(merchantCode.properties.kind.anyOf.map((k: any) => k.const)).toEqual(["order", "inventory", "payment", "checkout"]);
    expect(personCode.properties.kind.const).toBe("ocid_transfer"); // issue 17: a person's receive QR
    const o = doc.paths["/app/scan/{id}/order"].post;
    expect(o.requestBody.content["application/json"].schema.properties.items.items.properties.quantity.type).toBe("integer");
    expect(o.responses["200"].content["application/json"].schema.properties.inventory).toBeDefined();
  });
});
