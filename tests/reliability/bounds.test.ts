// Issue 23 item 8: limits and caches bounded by eviction, not reset; per-address limits behind a trusted proxy;
// settlement never waits behind webhook deliveries; /app bodies capped whatever their framing; an abandoned
// upload is the client's problem, not a logged 500.
import { afterAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { startPortTestGateway, NO_RATE_LIMITS, testEngine, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced } from "../helpers/wallet";
import { startSettlementPeers } from "../helpers/settlement-peers";
import { makeOrder } from "../peers/kit";
import { MAX_RATE_KEYS, RateLimiter } from "../../src/http/rate-limit";
import { MAX_UNKNOWN_OCIDS } from "../../src/peers/directory";
import { fileDone, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("bounds");

const open: PortTestGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
  fileDone(import.meta.path);
});
async function gateway(...a: Parameters<typeof startPortTestGateway>) {
  const g = await startPortTestGateway(...a);
  open.push(g);
  return g;
}

test("limiter: 100,001 distinct keys do not lift an existing 429; past windows are evicted, the table stays bounded", () => {
  const clock = { now: 1_800_000_000 };
  const l = new RateLimiter(() => clock.now);
  for (let i = 0; i < 5; i++) l.take("ip:attacker", 5);
  expect(l.take("ip:attacker", 5)).not.toBeNull();
  for (let i = 0; i <= MAX_RATE_KEYS; i++) l.take(`ip:10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 600);
  tally.tried("bounds", MAX_RATE_KEYS + 1);
  expect(l.take("ip:attacker", 5)).not.toBeNull(); // before: the table was cleared at 100,000 keys, lifting it
  expect(l.size).toBeLessThanOrEqual(MAX_RATE_KEYS + 1);
  // Keys arriving while the table is full of live windows share one overflow window: limited, not free.
  let refused = 0;
  for (let i = 0; i < 700; i++) if (l.take(`ip:new-${i}`, 600) !== null) refused++;
  expect(refused).toBeGreaterThanOrEqual(100); // the last keys of the flood already shared it
  // Next minute: past windows make room again.
  clock.now += 60;
  expect(l.take("ip:fresh", 600)).toBeNull();
  expect(l.take("ip:attacker", 5)).toBeNull(); // its own window ended normally
});

test("per-address limits honour X-Forwarded-For only from a configured trusted proxy", async () => {
  const limits = { ...NO_RATE_LIMITS, perIp: 3 };
  const behindProxy = await gateway({ rateLimits: limits, trustedProxies: ["127.0.0.1"] });
  const direct = await gateway({ rateLimits: limits });
  const hit = (g: PortTestGateway, xff: string) => fetch(g.url + "/opencharge/capabilities", { headers: { "x-forwarded-for": xff } }).then((r) => r.status);
  const a = [];
  for (let i = 0; i < 4; i++) a.push(await hit(behindProxy, "203.0.113.7"));
  expect(a).toEqual([401, 401, 401, 429]);
  expect(await hit(behindProxy, "203.0.113.8")).toBe(401); // another client behind the same proxy is not locked out
  expect(await hit(behindProxy, "198.51.100.1, 203.0.113.8")).toBe(401); // a client-supplied left hop is not believed
  const b = [];
  for (let i = 0; i < 4; i++) b.push(await hit(direct, `203.0.113.${i}`)); // untrusted peer: the header is ignored
  expect(b).toEqual([401, 401, 401, 429]);
  tally.tried("bounds", 10);
});

// A bound on one node's memory, the same code on either engine: on PostgreSQL its 10,500 sequential lookups (a
// database round trip each) would only measure the network, so it runs on SQLite.
test.skipIf(testEngine() === "postgres")("unknown OCIDs: the negative cache is bounded", async () => {
  const g = await gateway({ rateLimits: NO_RATE_LIMITS });
  const n = MAX_UNKNOWN_OCIDS + 500;
  for (let i = 0; i < n; i++) await g.gw.directory.resolve(900_000 + i).catch(() => {});
  tally.tried("bounds", n);
  expect(g.gw.directory.unknownCached).toBeLessThanOrEqual(MAX_UNKNOWN_OCIDS);
});

test("40 deliveries to a hanging webhook do not delay an unrelated settlement (separate scheduler slots)", async () => {
  const g = await gateway({ rateLimits: NO_RATE_LIMITS, partners: [{ ocid: 101, reserveCurrencies: ["USD"] }], outboundTimeouts: { settlementMs: 5000, webhookMs: 8000 } });
  const peers = await startSettlementPeers(g);
  try {
    peers.webhook.override(async () => (await Bun.sleep(8000), null));
    const now = g.gw.clock();
    await g.gw.store.transaction(async (tx) => {
      for (let i = 0; i < 40; i++) await tx.deliveries.enqueue({ orderId: null, target: 500, txid: `tx_hang_${i}`, body: "{}", now });
    });
    g.gw.events.deliveryEnqueued();
    await Bun.sleep(200);
    const { token } = await seedUser(g, "payer", "USD:10.00");
    const s = (await app(g, token, "POST", "/app/pay", {})).json.sessionId as string;
    const o = makeOrder(500, { accepts: [101], amount: "1.00" });
    expect((await peers.merchant.call(g.url, "POST", `/opencharge/orders/create/${s}`, { order: o, signature: peers.merchant.signOrder(o), urls: {} })).status).toBe(200);
    const t0 = performance.now();
    expect((await app(g, token, "POST", `/app/confirm/${s}`, {})).status).toBe(200);
    await waitUntil("the partner settlement", async () => (await g.gw.store.read((tx) => tx.orders.bySession(s)))!.status === "paid", 6000);
    const ms = performance.now() - t0;
    tally.tried("bounds", 41);
    tally.note("bounds", `settlement behind 40 hanging deliveries paid in ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(3000); // before: it waited for the webhook timeouts (8 s here)
    await assertPortLedgerBalanced(g);
  } finally {
    await g.scheduler.stop();
    await peers.stop();
  }
});

test("/app: a chunked body must declare its length (no uncapped upload); an abandoned upload is no error and no 500", async () => {
  const g = await gateway({ rateLimits: NO_RATE_LIMITS });
  const { token } = await seedUser(g, "up");
  const big = new TextEncoder().encode(JSON.stringify({ pad: "x".repeat(150_000) }));
  const stream = new ReadableStream({ start(c) { c.enqueue(big); c.close(); } });
  const r = await fetch(g.url + "/app/pay", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: stream });
  const json = (await r.json()) as any;
  tally.tried("bounds");
  tally.status("bounds", r.status);
  expect(r.status).toBe(400);
  expect(json.error).toMatchObject({ code: "INVALID_REQUEST", details: { reason: "length_required" } });
  // Headers promise 2,000 bytes, 10 arrive, the client hangs up: on a protocol route and on /app.
  for (const path of ["/opencharge/transfer/create", "/app/pay"]) {
    await new Promise<void>((resolve) => {
      const sock = connect(g.port, "127.0.0.1", () => {
        sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000\r\nAuthorization: Bearer ${token}\r\n\r\n{"from":{"`);
        setTimeout(() => (sock.destroy(), resolve()), 100);
      });
      sock.on("error", () => resolve());
    });
    tally.tried("bounds");
  }
  await Bun.sleep(300);
  expect(g.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
});
