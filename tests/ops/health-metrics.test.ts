// Issue 15: /healthz, /readyz and /metrics on the real server. Readiness names what is not ready (a database
// that turns read-only, a stopped scheduler); metrics parse with a Prometheus text-format parser and their
// figures match the database; /metrics can be kept behind a token or off the public listener.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app, WsClient } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";

let tg: TestGateway;
let merchant: TestPeer;
beforeAll(async () => {
  tg = await startTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 100 });
  merchant = await startMerchant(tg, 500);
  merchant.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
});
afterAll(async () => {
  await merchant.stop();
  await tg.close();
});

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 8000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

test("healthz and readyz answer 200 on a healthy gateway; the WAL is private too", async () => {
  expect(await (await fetch(`${tg.url}/healthz`)).json()).toEqual({ status: "ok" });
  const r = await fetch(`${tg.url}/readyz`);
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({ ready: true, checks: { database: "ok", scheduler: "ok", key: "ok" }, notReady: [] });
  for (const f of ["gateway.sqlite", "gateway.sqlite-wal", "gateway.sqlite-shm", "gateway.key"])
    expect([f, statSync(join(tg.dataDir, f)).mode & 0o777]).toEqual([f, 0o600]);
});

test("readiness fails with 503 naming the database while the database is read-only, and recovers", async () => {
  tg.gw.db.exec("PRAGMA query_only = ON"); // the serving connection can no longer write
  try {
    const r = await fetch(`${tg.url}/readyz`);
    expect(r.status).toBe(503);
    const body = await r.json();
    expect(body.notReady).toEqual(["database"]);
    expect(body.checks.database).toContain("not writable");
    expect((await fetch(`${tg.url}/healthz`)).status).toBe(200); // alive, just not ready
  } finally {
    tg.gw.db.exec("PRAGMA query_only = OFF");
  }
  expect((await fetch(`${tg.url}/readyz`)).status).toBe(200);
});

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];
const scrape = async (url = tg.url, headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
};
const value = (f: Family | undefined, labels: Record<string, string>) =>
  Number(f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? NaN);

test("metrics parse as Prometheus text and match the database: orders, settlements, deliveries, latencies, sockets", async () => {
  const { token } = addUser(tg, "mia", "USD:100.00");
  const ws = await WsClient.open(tg, { token });
  for (let i = 0; i < 6; i++) {
    const s = (await app(tg, token, "POST", "/app/pay", {})).json;
    expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount: "1.25" }))).status).toBe(200);
    if (i < 4) expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
    else if (i === 4) expect((await app(tg, token, "POST", `/app/decline/${s.sessionId}`, {})).status).toBe(200);
  }
  const q = (sql: string) => tg.gw.db.query<{ n: number }, []>(sql).get()!.n;
  await until("4 deliveries", () => q("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'delivered'") === 4);

  const m = await scrape();
  for (const status of ["awaiting_confirmation", "confirmed", "paid", "declined", "expired", "failed", "in_review"])
    expect([status, value(m.get("oc_orders"), { status })]).toEqual([status, q(`SELECT COUNT(*) AS n FROM orders WHERE status = '${status}'`)]);
  expect(value(m.get("oc_orders"), { status: "paid" })).toBe(4);
  expect(value(m.get("oc_settlements"), { outcome: "done", strategy: "direct" })).toBe(q("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done'"));
  for (const state of ["pending", "delivered", "rejected", "dead"])
    expect([state, value(m.get("oc_deliveries"), { state })]).toEqual([state, q(`SELECT COUNT(*) AS n FROM deliveries WHERE state = '${state}'`)]);

  const settle = m.get("oc_settlement_latency_seconds")!;
  expect(settle.type).toBe("HISTOGRAM");
  expect(Number(settle.metrics[0]!.count)).toBe(4);
  expect(Number(settle.metrics[0]!.buckets!["+Inf"])).toBe(4);
  expect(Number(m.get("oc_confirm_to_webhook_seconds")!.metrics[0]!.count)).toBe(4);
  expect(value(m.get("oc_websockets_open"), {})).toBe(1);
  expect(value(m.get("oc_verify_queue_depth"), {})).toBeGreaterThanOrEqual(0);
  // The store's own counts (src/store/sqlite-engine.ts), as the engine keeps them: counters, so a later scrape
  // is never lower; a member is one store transaction, so there are at least as many as SQLite transactions.
  const stats = tg.gw.store.transactionStats();
  for (const kind of ["write", "read"] as const) {
    const transactions = value(m.get("oc_sqlite_transactions_total"), { kind });
    const members = value(m.get("oc_sqlite_transaction_members_total"), { kind });
    expect(transactions).toBeGreaterThan(0);
    expect(members).toBeGreaterThanOrEqual(transactions);
    expect([stats[kind].transactions >= transactions, stats[kind].members >= members]).toEqual([true, true]);
  }
  ws.close();
  await until("the socket to close", async () => value((await scrape()).get("oc_websockets_open"), {}) === 0);
});

test("a stopped scheduler makes readiness fail with 503 naming it", async () => {
  const g = await startTestGateway({});
  try {
    await g.scheduler.stop();
    const r = await fetch(`${g.url}/readyz`);
    expect(r.status).toBe(503);
    expect((await r.json()).notReady).toEqual(["scheduler"]);
  } finally {
    await g.close();
  }
});

test("metrics.token: /metrics needs the bearer token; metrics.port: /metrics only on its own listener", async () => {
  const secret = "a-metrics-token-0123456789";
  const g = await startTestGateway({ metrics: { token: secret } });
  try {
    expect((await fetch(`${g.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${g.url}/metrics`, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status).toBe(401);
    expect((await scrape(g.url, { authorization: `Bearer ${secret}` })).has("oc_orders")).toBe(true);
    expect(g.logs.join("\n")).not.toContain(secret);
  } finally {
    await g.close();
  }
  const h = await startTestGateway({ metrics: { port: 0, host: "127.0.0.1" } });
  try {
    expect((await fetch(`${h.url}/metrics`)).status).toBe(404);
    expect(h.metricsPort).toBeGreaterThan(0);
    expect((await scrape(`http://127.0.0.1:${h.metricsPort}`)).has("oc_orders")).toBe(true);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  } finally {
    await h.close();
  }
});
