// Issue 23 item 6: inputs that answered 500. Demo login names outside the user-name rule; a confirm that would
// push the money in flight past the 64-bit balance range; a settlement credit to an account that cannot hold it
// (retried forever before); currency exponents that made every balance cap near 9.22 units.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { inFlightRow, inFlightShard } from "../../src/domain/ledger-accounts";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow } from "../helpers/inspect";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";
import { ConfigError, loadConfig } from "../../src/config";
import { buildCurrencyTable, MAX_EXPONENT } from "../../src/protocol/currencies";
import { fileDone, protocolShapeProblem, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("server-errors");

let demo: PortTestGateway;
let tg: PortTestGateway;
let merchant: TestPeer;
const MAX_AMOUNT = "9999999999999999.99"; // the largest USD amount (999,999,999,999,999,999 minor units)

beforeAll(async () => {
  demo = await startPortTestGateway({ demoMode: true });
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 100 });
  merchant = await startMerchant(tg);
});
afterAll(async () => {
  await merchant.stop();
  await demo.close();
  await tg.close();
  fileDone(import.meta.path);
});

/** The order a session holds, read through the port. */
async function orderOf(sessionId: string) {
  const o = await tg.gw.store.read((tx) => tx.orders.bySession(sessionId));
  if (!o) throw new Error(`no order for session ${sessionId}`);
  return o;
}

function counted(status: number, text: string) {
  tally.tried("serverErrors");
  tally.status("serverErrors", status);
  expect(protocolShapeProblem(status, text)).toBeNull();
}

test("demo login: names outside the rule answer 400 INVALID_REQUEST naming the field; the limit per address then answers 429", async () => {
  for (const name of ["<b>", "😀", "x/y", "a\u0000b", "tab\there", "\u202egnp"]) {
    const r = await app(demo, null, "POST", "/app/demo/login", { name });
    counted(r.status, r.text);
    expect(`${JSON.stringify(name)} ${r.status} ${r.json?.error?.code}`).toBe(`${JSON.stringify(name)} 400 INVALID_REQUEST`);
    expect(r.json.error.details.fields).toEqual(["name"]);
  }
  for (const name of ["alice", "Zoë"]) {
    const r = await app(demo, null, "POST", "/app/demo/login", { name });
    counted(r.status, r.text);
    expect(r.status).toBe(200);
    expect(r.json.user.name.startsWith(name + "-")).toBe(true);
  }
  // 8 requests so far from this address; the default allows 10 a minute.
  for (let i = 0; i < 2; i++) expect((await app(demo, null, "POST", "/app/demo/login", {})).status).toBe(200);
  const limited = await app(demo, null, "POST", "/app/demo/login", {});
  counted(limited.status, limited.text);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(demo.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
});

test("a confirm that would push the money in flight past the 64-bit range answers 400 balance_limit; nothing moves", async () => {
  const { user, token } = await seedUser(tg, "whale", `USD:${MAX_AMOUNT}`);
  const now = tg.gw.clock();
  // Other payments in flight, as far as the ledger knows (booked against an external account: `funding` already
  // carries the whale's credit, and it has a 64-bit range of its own).
  // settlement_in_flight is kept in shards and the 64-bit range is each balance row's: fill the row this order's
  // confirm would credit (src/domain/ledger-accounts.ts).
  const stuffing = 9_000_000_000_000_000_000n;
  const s = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
  expect((await submitOrder(merchant, tg, s, orderFor(merchant, tg, { amount: MAX_AMOUNT }))).status).toBe(200);
  const row = inFlightRow(inFlightShard((await orderOf(s)).id));
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "external:901", to: row, currency: "USD", amount: stuffing, reason: "funding", now }));
  try {
    const r = await app(tg, token, "POST", `/app/confirm/${s}`, {});
    counted(r.status, r.text);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "INVALID_AMOUNT", details: { reason: "balance_limit" } });
    expect((await orderOf(s)).status).toBe("awaiting_confirmation");
    expect(await portBalance(tg, `user:${user.id}`)).toBe(999_999_999_999_999_999n);
  } finally {
    await tg.gw.store.transaction((tx) => tx.ledger.move({ from: row, to: "external:901", currency: "USD", amount: stuffing, reason: "funding", now }));
  }
  await assertPortLedgerBalanced(tg);
});

test("a direct settlement to a merchant account that cannot hold the amount fails the path and refunds, instead of retrying forever", async () => {
  const { user, token } = await seedUser(tg, "whale2", `USD:${MAX_AMOUNT}`);
  const now = tg.gw.clock();
  const full = 9_000_000_000_000_000_000n;
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "external:902", to: "peer:500", currency: "USD", amount: full, reason: "funding", now }));
  const s = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
  expect((await submitOrder(merchant, tg, s, orderFor(merchant, tg, { amount: MAX_AMOUNT }))).status).toBe(200);
  const c = await app(tg, token, "POST", `/app/confirm/${s}`, {});
  counted(c.status, c.text);
  expect(c.status).toBe(200);
  await waitUntil("the order to fail and refund", async () => (await orderOf(s)).status === "failed", 5000);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(999_999_999_999_999_999n);
  expect(await portBalance(tg, "peer:500")).toBe(full);
  expect((await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM anomalies WHERE kind = 'balance_limit'"))!.n).toBe(1);
  expect(tg.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "peer:500", to: "external:902", currency: "USD", amount: full, reason: "funding", now }));
  await assertPortLedgerBalanced(tg);
});

test("currency exponents are bounded: every balance range holds at least 9.2 billion units", () => {
  expect(MAX_EXPONENT).toBe(9);
  expect(() => loadConfig({ env: {}, overrides: { currencies: { enabled: ["USD"], extra: { TOK: 18 } } } as never })).toThrow(ConfigError);
  expect(() => buildCurrencyTable({ TOK: 10 })).toThrow();
  const t = buildCurrencyTable({ TOK: 9 });
  for (const [, exp] of t) expect(2n ** 63n / 10n ** BigInt(exp)).toBeGreaterThanOrEqual(9_200_000_000n);
  tally.tried("serverErrors", 3);
});
