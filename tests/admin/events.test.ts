// Issue 16: event webhooks to the operator's systems, verified by a receiver that uses the npm `standardwebhooks`
// library (not our code): signatures, retries after 500s with the same event id, replay, type filters, and
// `delivery.dead` when a proof delivery gives up.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { startPortTestGateway, type PortTestGateway as TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { app, assertPortLedgerBalanced, seedUser } from "../helpers/wallet";
import { admin, apiKey } from "../helpers/admin";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";

type Got = { id: string; timestamp: string; verified: boolean; event: any; at: number };

/** The operator's receiver: verifies every request with the endpoint secret, answers what `reply` says. */
function startReceiver() {
  const got: Got[] = [];
  let secret = "";
  let reply: (e: any, attempt: number) => number = () => 200;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => (headers[k] = v));
      let verified = false;
      let event: any;
      try {
        event = new Webhook(secret).verify(body, headers);
        verified = true;
      } catch {
        event = JSON.parse(body);
      }
      const id = headers["webhook-id"] ?? "";
      got.push({ id, timestamp: headers["webhook-timestamp"] ?? "", verified, event, at: Date.now() });
      return new Response(null, { status: reply(event, got.filter((g) => g.id === id).length) });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hooks/opencharge`,
    got,
    setSecret: (s: string) => (secret = s),
    setReply: (f: typeof reply) => (reply = f),
    stop: () => server.stop(true),
  };
}

const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
let tg: TestGateway;
let key: string;
let merchant: TestPeer;
let all: ReturnType<typeof startReceiver>;
let refundsOnly: ReturnType<typeof startReceiver>;
let failMerchantWebhook = false;

beforeAll(async () => {
  // A short delivery window so the give-up (dead) path is reachable: retries at +10 s and +60 s, then dead.
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, webhookMaxAge: 100 }, { clock: now });
  key = await apiKey(tg, "events", ["events:read", "events:write", "funds:write", "users:write", "refunds:write", "deliveries:read"]);
  merchant = await startMerchant(tg, 500);
  merchant.route("POST", "/transfer/webhook", (req) => (failMerchantWebhook ? { status: 500, body: {} } : { body: { status: "accepted", txid: req.json.proof.txid } }));
  all = startReceiver();
  refundsOnly = startReceiver();
  const a = await admin(tg, key, "POST", "/admin/event-endpoints", { url: all.url, eventTypes: ["*"] });
  expect(a.status).toBe(201);
  expect(a.json.secret).toMatch(/^whsec_/);
  all.setSecret(a.json.secret);
  const r = await admin(tg, key, "POST", "/admin/event-endpoints", { url: refundsOnly.url, eventTypes: ["refund.succeeded"] });
  refundsOnly.setSecret(r.json.secret);
});
afterAll(async () => {
  all.stop();
  refundsOnly.stop();
  await merchant.stop();
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

async function pay(amount: string) {
  const { user, token } = await seedUser(tg, `e${Math.random().toString(36).slice(2, 8)}`, "USD:100.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = orderFor(merchant, tg, { amount });
  expect((await submitOrder(merchant, tg, s.sessionId, order)).status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  const id = (await tg.gw.store.read((tx) => tx.orders.bySession(s.sessionId)))!.id;
  return { user, order, id };
}

/** An event's delivery to its one endpoint (`all`), as the gateway recorded it; null before the outbox row exists. */
const eventDelivery = (eventId: string) =>
  tg.gw.store.read(async (tx) => {
    const [id] = await tx.events.deliveriesOf(eventId);
    return id === undefined ? null : tx.deliveries.byId(id);
  });

/** The delivery of the payment proof (the order's final txid) of the merchant's order `orderId`. */
const proofDelivery = (orderId: string) =>
  tg.gw.store.read(async (tx) => {
    const o = await tx.orders.latestForCaller(500, orderId);
    if (!o?.finalTxid) return null;
    return (await tx.deliveryQueries.ofOrder(o.id)).find((d) => d.txid === o.finalTxid) ?? null;
  });

test("payment.paid and credit.received reach the endpoint signed per Standard Webhooks; refunds reach both endpoints", async () => {
  const { user, order, id } = await pay("3.00");
  await until("payment.paid", () => all.got.some((g) => g.event.type === "payment.paid" && g.event.data.orderId === order.id));
  const paid = all.got.find((g) => g.event.type === "payment.paid" && g.event.data.orderId === order.id)!;
  expect(paid.verified).toBe(true);
  expect(paid.id).toBe(paid.event.id);
  expect(paid.id).toMatch(/^evt_/);
  expect(paid.event.data).toMatchObject({ id, orderId: order.id, merchant: 500, userId: user.id, amount: "3.00", currency: "USD", status: "paid", txid: expect.any(String) });
  await admin(tg, key, "POST", `/admin/users/${user.id}/credits`, { currency: "USD", amount: "2.00" });
  await until("credit.received", () => all.got.some((g) => g.event.type === "credit.received" && g.event.data.userId === user.id));
  expect(refundsOnly.got.length).toBe(0);
  const rf = await admin(tg, key, "POST", `/admin/orders/${id}/refunds`, { amount: "1.00" });
  expect(rf.status).toBe(201);
  await until("refund.succeeded at both", () => [all, refundsOnly].every((r) => r.got.some((g) => g.event.type === "refund.succeeded" && g.event.data.refund.id === rf.json.refund.id)));
  const seen = refundsOnly.got.find((g) => g.event.data.refund.id === rf.json.refund.id)!;
  expect(seen.verified).toBe(true);
  expect(seen.event.data.refund).toMatchObject({ amount: "1.00", status: "succeeded" });
  expect(refundsOnly.got.every((g) => g.event.type === "refund.succeeded")).toBe(true);
  // A forged signature does not verify with the library (the receiver's check is real).
  expect(() => new Webhook("whsec_" + Buffer.from("x".repeat(32)).toString("base64")).verify(JSON.stringify(paid.event), { "webhook-id": paid.id, "webhook-timestamp": paid.timestamp, "webhook-signature": "v1,AAAA" })).toThrow();
});

test("500s are retried on the backoff schedule from the durable outbox; the event id stays the same; then replay", async () => {
  all.setReply((e, attempt) => (e.type === "credit.received" && e.data.amount === "7.77" && attempt <= 2 ? 500 : 200));
  const { json } = await admin(tg, key, "POST", "/admin/users", { name: "retry-me" });
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/credits`, { currency: "USD", amount: "7.77" });
  const mine = () => all.got.filter((g) => g.event.type === "credit.received" && g.event.data.amount === "7.77");
  // The clock moves only once the gateway has recorded the attempt: a retry is scheduled from the time the failure is
  // recorded, so moving it while the receiver's answer is still on its way would schedule the retry past the jump.
  const recorded = (n: number) => async () =>
    mine().length === n && ((await eventDelivery(mine()[0]!.id))?.attempts ?? 0) >= n;
  await until("first attempt recorded", recorded(1));
  offset.s = 11; // first retry after 10 s
  await until("second attempt recorded", recorded(2));
  offset.s = 11 + 61; // second retry after 60 s more
  await until("third attempt", () => mine().length === 3);
  const attempts = mine();
  expect(new Set(attempts.map((g) => g.id)).size).toBe(1);
  expect(attempts.every((g) => g.verified)).toBe(true);
  expect(Number(attempts[2]!.timestamp)).toBeGreaterThan(Number(attempts[0]!.timestamp)); // signed per attempt
  const eventId = attempts[0]!.id;
  // The receiver answered before the gateway recorded the attempt: wait for the outbox row.
  await until("the delivery recorded", async () => (await eventDelivery(eventId))?.state === "delivered");
  const d = (await admin(tg, key, "GET", "/admin/deliveries?limit=200")).json.items.find((x: { txid: string; kind: string }) => x.txid === eventId && x.kind === "event");
  expect(d).toMatchObject({ kind: "event", state: "delivered", attempts: 3, lastHttpStatus: 200 });
  const listed = (await admin(tg, key, "GET", "/admin/events?type=credit.received")).json.items.map((e: { id: string }) => e.id);
  expect(listed).toContain(eventId);
  const rep = await admin(tg, key, "POST", `/admin/events/${eventId}/replay`);
  expect(rep.status).toBe(200);
  expect(rep.json.deliveries.length).toBe(1);
  await until("the replay", () => mine().length === 4);
  expect(mine()[3]!.id).toBe(eventId);
  expect(mine()[3]!.verified).toBe(true);
  all.setReply(() => 200);
});

test("a proof delivery that gives up raises delivery.dead", async () => {
  failMerchantWebhook = true;
  const { order } = await pay("4.00");
  const rowId = (await tg.gw.store.read((tx) => tx.orders.latestForCaller(500, order.id as string)))!.id;
  const dead = () => all.got.find((g) => g.event.type === "delivery.dead" && g.event.data.orderId === rowId);
  await until("the first delivery attempt", async () => ((await proofDelivery(order.id as string))?.attempts ?? 0) >= 1);
  offset.s = 11;
  await until("the second attempt", async () => ((await proofDelivery(order.id as string))?.attempts ?? 0) >= 2);
  offset.s = 11 + 61;
  await until("delivery.dead", () => dead() !== undefined);
  expect(dead()!.verified).toBe(true);
  expect(dead()!.event.data).toMatchObject({ attempts: 3, target: 500 });
  failMerchantWebhook = false;
});

test("endpoints: bad URL or unknown event type is 400; list; disable stops deliveries; the secret never reaches the audit log", async () => {
  expect((await admin(tg, key, "POST", "/admin/event-endpoints", { url: "ftp://x", eventTypes: ["*"] })).status).toBe(400);
  expect((await admin(tg, key, "POST", "/admin/event-endpoints", { url: all.url, eventTypes: ["payment.exploded"] })).status).toBe(400);
  const list = (await admin(tg, key, "GET", "/admin/event-endpoints")).json.items;
  expect(list.length).toBe(2);
  expect(JSON.stringify(list)).not.toContain("whsec_");
  const entries = await tg.gw.store.read((tx) => tx.audit.page(Number.MAX_SAFE_INTEGER, 1000));
  const audit = JSON.stringify(entries.filter((e) => e.action === "events.create_endpoint").map((e) => e.args));
  expect(audit).toContain("[redacted]");
  expect(audit).not.toContain("whsec_");
  const off = await admin(tg, key, "DELETE", `/admin/event-endpoints/${list.find((e: { url: string }) => e.url === refundsOnly.url).id}`);
  expect(off.json.endpoint.disabled).toBe(true);
  const before = refundsOnly.got.length;
  const { id } = await pay("2.00");
  await until("paid", async () => (await tg.gw.store.read((tx) => tx.orders.byId(id)))!.status === "paid");
  await admin(tg, key, "POST", `/admin/orders/${id}/refunds`, {});
  await until("refund event at the other endpoint", () => all.got.some((g) => g.event.type === "refund.succeeded" && g.event.data.order.id === id));
  await Bun.sleep(200);
  expect(refundsOnly.got.length).toBe(before);
});
