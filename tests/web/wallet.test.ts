// The web wallet at `/` in a real headless Chromium at phone size (375×667): sign in, Pay, the QR code, a merchant
// peer's order arriving live over the WebSocket, Confirm → paid (direct settlement), Decline, reconnect + de-dup.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { Browser } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app, assertLedgerBalanced, balance } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";
import { auditA11y, launchChromium, outputPath, PHONE, phonePage, until, type PhonePage, closePages } from "./browser";

let tg: TestGateway;
let merchant: TestPeer;
let browser: Browser;
const pages: PhonePage[] = [];

beforeAll(async () => {
  tg = await startTestGateway({ demoMode: true, rateLimits: NO_RATE_LIMITS });
  merchant = await startMerchant(tg, 500, { name: "Corner Coffee" });
  merchant.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await merchant?.stop();
  await tg?.close();
});
afterEach(async () => {
  expect(await closePages(pages)).toEqual([]);
  assertLedgerBalanced(tg);
});

async function open(path = "/") {
  const p = await phonePage(browser);
  pages.push(p);
  await p.page.goto(tg.url + path);
  return p.page;
}

async function signIn(page: import("playwright-core").Page, token: string, name: string) {
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
  expect(page.url()).not.toContain(token);
  // The tab keeps a short-lived sign-in session, never the operator's long-lived token.
  const kept = await page.evaluate(() => sessionStorage.getItem("oc.token"));
  expect(kept).toMatch(/^[0-9a-f]{64}$/);
  expect(kept).not.toBe(token);
  expect(await page.evaluate(() => localStorage.length)).toBe(0);
}

/** Tap Pay; returns the /app/pay response the page got. */
async function tapPay(page: import("playwright-core").Page) {
  const resp = page.waitForResponse((r) => r.url().endsWith("/app/pay") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  const json = (await (await resp).json()) as { sessionId: string; qrText: string; qrCode: string; expiresAt: number };
  await page.locator("#qr-img").waitFor({ state: "visible" });
  return json;
}

function decodeQr(png: Buffer): string | null {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data ?? null;
}

test("sign in → Pay shows the SPEC QR → the merchant's order arrives live → Confirm → paid, balance and history follow", async () => {
  const { user, token } = addUser(tg, "Alice", "USD:100.00");
  const page = await open();
  expect(await page.getByRole("heading", { name: "Sign in" }).isVisible()).toBe(true);
  expect(await auditA11y(page)).toEqual([]);
  await signIn(page, token, "Alice");
  expect(await page.locator('#balances li[data-currency="USD"] .amount').textContent()).toBe("100.00");

  // Pay: the QR shown is the session's, and it encodes exactly the §8.2 payload.
  const pay = await tapPay(page);
  expect(pay.qrText).toBe(`{"ocid":200,"order":"${tg.gw.config.endpoint}/orders/create/${pay.sessionId}","expiresAt":${pay.expiresAt}}`);
  expect(await page.locator("#qr-img").getAttribute("src")).toBe(pay.qrCode);
  expect(await page.locator("#qr-img").getAttribute("data-session")).toBe(pay.sessionId);
  expect(await page.locator("#qr-text").textContent()).toBe(pay.qrText);
  expect(decodeQr(Buffer.from(pay.qrCode.split(",")[1]!, "base64"))).toBe(pay.qrText);
  // What the phone actually displays decodes to the same bytes (a scanner would read this).
  expect(decodeQr(await page.locator("#qr-img").screenshot())).toBe(pay.qrText);
  expect(await page.locator("#qr-countdown").textContent()).toMatch(/^Expires in [45]:[0-5][0-9]$/);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("qr-title");
  const noHorizontalScroll = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  expect(noHorizontalScroll).toBe(true);
  expect(await auditA11y(page)).toEqual([]);
  await page.screenshot({ path: outputPath("wallet-qr.png") });

  // The merchant scans and submits; the prompt appears without a reload.
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  const order = orderFor(merchant, tg, { amount: "25.00", reference: "POS-7" });
  expect((await submitOrder(merchant, tg, pay.sessionId, order)).status).toBe(200);
  const card = page.locator(`#prompts article[data-session="${pay.sessionId}"]`);
  await card.waitFor();
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  expect(await page.locator("#prompts").getAttribute("aria-live")).toBe("assertive");
  expect(await card.getByRole("heading").textContent()).toBe("Corner Coffee requests 25.00 USD");
  expect(await card.locator(".items li").allTextContents()).toEqual(["Coffee2 × 5.00", "Sandwich1 × 15.00"]);
  expect(await card.locator(".total").textContent()).toBe("Total25.00 USD");
  expect(await card.locator(".countdown").textContent()).toMatch(/^Answer within \d+:[0-5][0-9]$/);
  expect(await page.evaluate(() => document.activeElement?.tagName + ":" + document.activeElement?.textContent)).toBe("H3:Corner Coffee requests 25.00 USD");
  expect(await page.locator("#qr-box").isHidden()).toBe(true);
  expect(await auditA11y(page)).toEqual([]);
  await page.screenshot({ path: outputPath("wallet-prompt.png") });
  // README picture (web/screenshot.png): OC_WEB_SCREENSHOT=$PWD/web/screenshot.png bun test tests/web/wallet.test.ts
  if (process.env.OC_WEB_SCREENSHOT) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: process.env.OC_WEB_SCREENSHOT });
  }

  // Confirm → confirmed → paid (direct settlement: the merchant accepts our OCID 200).
  const t0 = performance.now();
  await card.getByRole("button", { name: "Confirm" }).click();
  await page.locator(`#prompts article[data-session="${pay.sessionId}"][data-status="paid"]`).waitFor({ timeout: 5000 });
  const paidMs = performance.now() - t0;
  expect(await card.getByRole("status").textContent()).toBe("Paid");
  expect(await card.getByRole("button", { name: "Confirm" }).count()).toBe(0);
  await until(async () => (await page.locator('#balances li[data-currency="USD"] .amount').textContent()) === "75.00", "balance 75.00");
  await until(async () => (await page.locator("#history li").first().getAttribute("data-status")) === "paid", "history shows paid");
  expect(await page.locator("#history li").first().textContent()).toContain("Corner Coffee−25.00 USD");
  expect(balance(tg, `user:${user.id}`)).toBe(7500n);
  const st = await merchant.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`);
  expect(st.json).toMatchObject({ status: "paid", settlement: { type: "direct" } });
  expect(await auditA11y(page)).toEqual([]);
  await page.screenshot({ path: outputPath("wallet-paid.png"), fullPage: true });
  console.log(`[web] confirm click → "Paid" on screen: ${paidMs.toFixed(0)} ms`);

  // Done closes the card and returns focus to Pay.
  await card.getByRole("button", { name: "Done" }).click();
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("pay");
});

test("Decline: the prompt says Declined, nothing is debited, history shows it", async () => {
  const { user, token } = addUser(tg, "bob", "USD:40.00");
  const page = await open();
  await signIn(page, token, "bob");
  const pay = await tapPay(page);
  const order = orderFor(merchant, tg, { amount: "12.50" });
  expect((await submitOrder(merchant, tg, pay.sessionId, order)).status).toBe(200);
  const card = page.locator(`#prompts article[data-session="${pay.sessionId}"]`);
  await card.getByRole("button", { name: "Decline" }).click();
  await page.locator(`#prompts article[data-session="${pay.sessionId}"][data-status="declined"]`).waitFor();
  expect(await card.getByRole("status").textContent()).toBe("Declined");
  await until(async () => (await page.locator("#history li").first().getAttribute("data-status")) === "declined", "history shows declined");
  expect(await page.locator('#balances li[data-currency="USD"] .amount').textContent()).toBe("40.00");
  expect(balance(tg, `user:${user.id}`)).toBe(4000n);
  expect((await merchant.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`)).json.status).toBe("declined");
  await page.screenshot({ path: outputPath("wallet-declined.png"), fullPage: true });
});

test("the WebSocket reconnects after a drop and the replayed payment_request is not shown twice", async () => {
  const { user, token } = addUser(tg, "carol", "USD:10.00");
  const page = await open();
  await signIn(page, token, "carol");
  await until(async () => (await page.locator("#conn").getAttribute("data-state")) === "online", "socket online");
  const pay = await tapPay(page);
  expect((await submitOrder(merchant, tg, pay.sessionId, orderFor(merchant, tg, { amount: "1.00" }))).status).toBe(200);
  await page.locator(`#prompts article[data-session="${pay.sessionId}"]`).waitFor();
  // Drop every socket of the user on the server side; the page comes back after ~1 s (±20 %) and gets the replay.
  const socks = (tg.gw.hub as unknown as { sockets: Map<string, { close(code?: number): void }[]> }).sockets.get(user.id) ?? [];
  expect(socks.length).toBe(1);
  const dropped = Date.now();
  for (const s of socks) s.close(1012);
  await until(async () => (await page.locator("#conn").getAttribute("data-state")) !== "online", "socket offline");
  await until(async () => (await page.locator("#conn").getAttribute("data-state")) === "online" && tg.gw.hub.socketCount(user.id) === 1, "socket back online", 6000);
  const back = Date.now() - dropped;
  expect(back).toBeGreaterThanOrEqual(700);
  expect(back).toBeLessThan(5000); // 1 s ±20 % plus slack for a loaded machine
  await Bun.sleep(200); // the replayed payment_request has arrived
  expect(await page.locator(`#prompts article[data-session="${pay.sessionId}"]`).count()).toBe(1);
  // Answered while disconnected elsewhere: after the next drop the page reads the state back.
  for (const s of (tg.gw.hub as unknown as { sockets: Map<string, { close(code?: number): void }[]> }).sockets.get(user.id) ?? []) s.close(1012);
  expect((await app(tg, token, "POST", `/app/decline/${pay.sessionId}`, {})).json.status).toBe("declined");
  await page.locator(`#prompts article[data-session="${pay.sessionId}"][data-status="declined"]`).waitFor({ timeout: 5000 });
});

test("a wrong token is refused with an alert; demo login creates a funded user; sign out forgets the token", async () => {
  const page = await open();
  await page.getByLabel("Access token").fill("0".repeat(64));
  await page.getByRole("button", { name: "Sign in" }).click();
  expect(await page.getByRole("alert").filter({ hasText: "not accepted" }).textContent()).toBe("That token was not accepted.");
  // The browser logs the refused /app/me (401) itself; that one is expected.
  const p = pages[0]!;
  expect(p.problems.splice(0)).toEqual(["console: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
  expect(await page.getByLabel("Access token").getAttribute("aria-invalid")).toBe("true");
  expect(await page.evaluate(() => sessionStorage.getItem("oc.token"))).toBeNull();

  await page.getByRole("button", { name: "Demo login" }).click();
  await page.getByRole("heading", { level: 1, name: /^Hello, demo-/ }).waitFor();
  const amount = await page.locator('#balances li[data-currency="USD"] .amount').textContent();
  expect(Number(amount)).toBeGreaterThan(0);
  // A reload keeps the tab signed in (sessionStorage), without the token in the URL.
  await page.reload();
  await page.getByRole("heading", { level: 1, name: /^Hello, demo-/ }).waitFor();
  const session = (await page.evaluate(() => sessionStorage.getItem("oc.token")))!;
  expect((await app(tg, session, "GET", "/app/me")).status).toBe(200);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  expect(await page.evaluate(() => sessionStorage.getItem("oc.token"))).toBeNull();
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("signin-title");
  // Sign-out revoked the session on the server, not only in this tab.
  await until(async () => (await app(tg, session, "GET", "/app/me")).status === 401, "session revoked by sign-out");
});

test("the page is served with a strict CSP and the assets from the module graph", async () => {
  const res = await fetch(tg.url + "/");
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  const html = await res.text();
  const js = html.match(/src="(\/assets\/app\.js\?v=[0-9a-f]+)"/)?.[1];
  expect(js).toBeDefined();
  const r = await fetch(tg.url + js);
  expect(r.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  expect((await fetch(tg.url + js, { headers: { "if-none-match": r.headers.get("etag")! } })).status).toBe(304);
  expect((await r.text()).length).toBeGreaterThan(1000);
  expect((await fetch(tg.url + "/assets/app.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
  expect(PHONE).toEqual({ width: 375, height: 667 });
});
