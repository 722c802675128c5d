// Issue 17 step 5: a top-up through another gateway's hosted checkout. Gateway A (300) signs an order as itself and
// asks gateway B (400, another instance of this gateway with its own key and database) for a checkout; the user
// pays on B's hosted page in real headless Chromium; B's proof arrives at A's /transfer/webhook and credits the
// user exactly once. The books mirror: A's external:400 falls by what B's peer:300 account gained.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance, WsClient } from "../helpers/wallet";
import { dbRow } from "../helpers/inspect";
import { TestPeer } from "../peers/kit";
import { bytesToHex } from "../../src/protocol/hex";
import * as S from "../../src/app/schemas";
import { expectConforms } from "../helpers/schema-check";
import { closePages, launchChromium, outputPath, phonePage, until, type PhonePage } from "../web/browser";

let A: PortTestGateway;
let B: PortTestGateway;
let browser: Browser;
const pages: PhonePage[] = [];

beforeAll(async () => {
  A = await startPortTestGateway({ ocid: 300, name: "Gateway A", acceptIssuers: [400], rateLimits: NO_RATE_LIMITS });
  B = await startPortTestGateway({ ocid: 400, name: "Gateway B", rateLimits: NO_RATE_LIMITS });
  await A.gw.directory.add(400, B.gw.config.endpoint);
  await B.gw.directory.add(300, A.gw.config.endpoint);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([A?.close(), B?.close()]);
});
afterEach(async () => {
  expect(await closePages(pages)).toEqual([]);
  await assertPortLedgerBalanced(A);
  await assertPortLedgerBalanced(B);
  expect((await portBalance(A, "external:400")) + (await portBalance(B, "peer:300"))).toBe(0n);
});

test("top-up through B's hosted checkout in Chromium: credited once when B's proof arrives, pushed live, in history", async () => {
  const alice = await seedUser(A, "alice");
  const payer = await seedUser(B, "alice at B", "USD:100.00");
  const sock = await WsClient.open(A, { token: alice.token });
  const start = await app(A, alice.token, "POST", "/app/topup", { via: 400, amount: "25", currency: "USD" });
  expect(start.status).toBe(200);
  expect(start.json).toMatchObject({ status: "pending", amount: "25.00", currency: "USD", via: 400 });
  expectConforms(S.TopupStarted, start.json, "POST /app/topup");
  expect(start.json.checkoutUrl).toStartWith(`${B.gw.config.webBaseUrl}/checkout/`);
  const id = start.json.id as string;

  const p = await phonePage(browser);
  pages.push(p);
  const page = p.page;
  await page.goto(start.json.checkoutUrl);
  await page.getByLabel("Access token").fill(payer.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Checkout" }).waitFor();
  const card = page.locator("#checkout-body article");
  expect(await card.getByRole("heading").textContent()).toBe("Gateway A requests 25.00 USD");
  await page.screenshot({ path: outputPath("topup-checkout.png"), fullPage: true });
  await card.getByRole("button", { name: "Confirm" }).click();
  // Back at A's wallet, on the success URL A gave B.
  await page.waitForURL(`${A.gw.config.webBaseUrl}/?topup=${id}`, { timeout: 10_000 });

  const credit = await sock.next((m) => m.type === "credit_received", 10_000);
  expect(credit).toMatchObject({ kind: "topup", amount: "25.00", currency: "USD", from: { gateway: 400 } });
  expect((await portBalance(A, `user:${alice.user.id}`))).toBe(2500n);
  expect((await portBalance(B, `user:${payer.user.id}`))).toBe(7500n);
  const view = (await app(A, alice.token, "GET", `/app/topups/${id}`)).json;
  expect(view).toMatchObject({ status: "credited", txid: credit.txid });
  expectConforms(S.TopupView, view, "GET /app/topups/:id");
  expectConforms(S.WsServerMessage, credit, "credit_received (top-up)");
  const hist = (await app(A, alice.token, "GET", "/app/history")).json;
  expectConforms(S.HistoryPage, hist, "GET /app/history (top-up)");
  const h = hist.items;
  expect(h[0]).toMatchObject({ kind: "topup", amount: "25.00", issuer: 400, txid: credit.txid });

  // Exactly once: B's proof again is the stored answer; another proof for the same top-up, even one B signed, is refused.
  const bAsPeer = TestPeer.offline({ ocid: 400, privateKeyHex: bytesToHex(B.gw.key.secret) });
  bAsPeer.trustGateway(300, A.gw.key.publicKeyHex);
  const stored = (await dbRow<{ proof_json: string; signature: string }>(A, "SELECT proof_json, signature FROM received_proofs WHERE txid = ?", credit.txid))!;
  const again = await bAsPeer.call(A.url, "POST", "/opencharge/transfer/webhook", { proof: JSON.parse(stored.proof_json), signature: stored.signature });
  expect(again.json).toEqual({ status: "accepted", txid: credit.txid });
  const second = bAsPeer.issueProof({ to: { ocid: 300, reference: id }, amount: "25.00", currency: "USD" });
  const r2 = await bAsPeer.call(A.url, "POST", "/opencharge/transfer/webhook", second);
  expect(r2.json).toMatchObject({ status: "rejected", message: "top-up already credited" });
  expect((await portBalance(A, `user:${alice.user.id}`))).toBe(2500n);
  sock.close();
}, 60_000);

test("a top-up proof for another amount, or from a gateway it did not go through, credits nothing", async () => {
  const u = await seedUser(A, "bea");
  const start = await app(A, u.token, "POST", "/app/topup", { via: 400, amount: "5.00", currency: "USD" });
  const id = start.json.id as string;
  const bAsPeer = TestPeer.offline({ ocid: 400, privateKeyHex: bytesToHex(B.gw.key.secret) });
  bAsPeer.trustGateway(300, A.gw.key.publicKeyHex);
  const wrong = await bAsPeer.call(A.url, "POST", "/opencharge/transfer/webhook", bAsPeer.issueProof({ to: { ocid: 300, reference: id }, amount: "50.00", currency: "USD" }));
  expect(wrong.json).toMatchObject({ status: "rejected", message: "amount or currency differs from the top-up" });
  expect((await portBalance(A, `user:${u.user.id}`))).toBe(0n);
  expect((await app(A, u.token, "GET", `/app/topups/${id}`)).json.status).toBe("pending");
  // Bad requests: a gateway whose proofs we do not take, ourselves, bad amounts.
  for (const [body, status, code] of [
    [{ via: 999, amount: "5.00", currency: "USD" }, 400, "SETTLEMENT_NOT_SUPPORTED"],
    [{ via: 300, amount: "5.00", currency: "USD" }, 400, "INVALID_REQUEST"],
    [{ via: 400, amount: "5.001", currency: "USD" }, 400, "INVALID_AMOUNT"],
    [{ via: 400, amount: "5.00" }, 400, "INVALID_REQUEST"],
  ] as const) {
    const r = await app(A, u.token, "POST", "/app/topup", body);
    expect([r.status, r.json.error.code]).toEqual([status, code]);
  }
  // B refusing the checkout (it only takes checkouts from 999 now) is a definite refusal: no top-up left behind.
  const n = (await dbRow<{ n: number }>(A, "SELECT COUNT(*) AS n FROM topups"))!.n;
  B.gw.config.checkoutCallers.push(999);
  try {
    const refused = await app(A, u.token, "POST", "/app/topup", { via: 400, amount: "5.00", currency: "USD" });
    expect([refused.status, refused.json.error.code, refused.json.error.details.reason]).toEqual([400, "SETTLEMENT_NOT_SUPPORTED", "checkout_refused"]);
  } finally {
    B.gw.config.checkoutCallers.pop();
  }
  expect((await dbRow<{ n: number }>(A, "SELECT COUNT(*) AS n FROM topups"))!.n).toBe(n);
});
