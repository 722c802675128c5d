// Issue 22, approve on the phone, in real headless Chromium with two browser contexts: the desktop (1280x800) opens
// the hosted checkout a merchant gateway created, sees the order and a QR of its own session before any sign-in;
// the phone (375x667, its own platform authenticator) reads that QR — with the camera app (opening the URL) or
// with the wallet's Scan (a photo of the screen) — signs in with its passkey, answers, and the desktop follows the
// outcome live to the merchant's success or cancel URL. Also: passkey sign-in on the checkout page itself.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { Browser, Page } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app, assertLedgerBalanced, balance } from "../helpers/wallet";
import { startMerchant } from "../helpers/merchant";
import { conformsToDoc } from "../helpers/documented";
import { makeOrder, TestPeer } from "../peers/kit";
import { addVirtualAuthenticator, freeLoopbackPort } from "./authenticator";
import { closePages, launchChromium, outputPath, phonePage, until, type PhonePage } from "./browser";

let tg: TestGateway;
let base: string;
let merchant: TestPeer;
let mg: TestPeer;
let browser: Browser;
let shop: ReturnType<typeof Bun.serve>;
const pages: PhonePage[] = [];

beforeAll(async () => {
  const port = freeLoopbackPort();
  base = `http://localhost:${port}`;
  tg = await startTestGateway({ port, publicUrl: base, rateLimits: NO_RATE_LIMITS });
  merchant = await startMerchant(tg, 500);
  mg = await TestPeer.start({ ocid: 102, name: "Merchant Gateway" });
  mg.trustGateway(tg.gw.config.ocid, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(102, mg.endpoint);
  mg.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
  shop = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const title = new URL(req.url).pathname === "/ok" ? "Thank you for your order" : "Order cancelled";
      return new Response(`<!doctype html><html lang="en"><title>${title}</title><h1>${title}</h1></html>`, { headers: { "content-type": "text/html" } });
    },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  shop?.stop(true);
  await mg?.stop();
  await merchant?.stop();
  await tg?.close();
});
afterEach(async () => {
  expect(await closePages(pages)).toEqual([]);
  assertLedgerBalanced(tg);
});

const shopUrl = (path: string) => `http://127.0.0.1:${shop.port}${path}`;

async function createCheckout(amount: string) {
  const order = makeOrder(500, { accepts: [102], amount });
  const r = await mg.call(tg.url, "POST", "/opencharge/checkout/create", {
    order,
    signature: merchant.signOrder(order),
    merchantOcid: 500,
    urls: { success: shopUrl("/ok"), cancel: shopUrl("/cancel") },
  });
  expect(r.status).toBe(200);
  return { order, url: r.json.checkout_url as string, sessionId: r.json.session_id as string };
}

async function desktopPage(): Promise<PhonePage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(8_000);
  const p: PhonePage = { context, page, problems: [] };
  page.on("console", (m) => m.type() === "error" && p.problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => p.problems.push(`pageerror: ${e.message}`));
  pages.push(p);
  return p;
}

/** A phone with a passkey for `name` already registered (token sign-in once, add a passkey, sign out). */
async function phoneWithPasskey(name: string, operatorToken: string) {
  const p = await phonePage(browser);
  pages.push(p);
  await addVirtualAuthenticator(p.context, p.page);
  await p.page.goto(base + "/");
  await p.page.getByLabel("Access token").fill(operatorToken);
  await p.page.getByRole("button", { name: "Sign in" }).click();
  await p.page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
  await p.page.getByLabel("Name for a new passkey").fill(`${name}'s phone`);
  await p.page.getByRole("button", { name: "Add a passkey" }).click();
  await p.page.locator("#passkeys li").first().waitFor();
  await p.page.getByRole("button", { name: "Sign out" }).click();
  await p.page.getByRole("heading", { name: "Sign in" }).waitFor();
  return p;
}

/** What the desktop shows before sign-in: the order and the QR; returns the QR's decoded text and a PNG of it. */
async function desktopQr(page: Page, sessionId: string) {
  await page.locator("#checkout-preview article").waitFor();
  const img = page.locator("#approve-qr");
  await img.waitFor({ state: "visible" });
  await until(() => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0), "QR image loaded");
  const png = await img.screenshot();
  const decoded = PNG.sync.read(png);
  const qr = jsQR(new Uint8ClampedArray(decoded.data), decoded.width, decoded.height);
  expect(qr?.data).toBe(`${base}/checkout/${sessionId}`);
  return { text: qr!.data, png };
}

test("desktop shows the order and its QR before sign-in → the phone opens it, signs in with its passkey, confirms → the desktop lands on the success URL", async () => {
  const { user, token } = addUser(tg, "rae", "USD:30.00");
  const phone = await phoneWithPasskey("rae", token);
  const { sessionId, url, order } = await createCheckout("12.50");
  const mgBefore = balance(tg, "peer:102");

  const desk = await desktopPage();
  await desk.page.goto(url);
  expect(await desk.page.locator("#checkout-preview article").getByRole("heading").first().textContent()).toContain("12.50 USD");
  const { text } = await desktopQr(desk.page, sessionId);
  await desk.page.screenshot({ path: outputPath("approve-desktop-qr.png"), fullPage: true });
  const status = await fetch(`${base}/app/checkout/${sessionId}/status`).then((r) => r.json());
  expect(status).toEqual({ sessionId, status: "awaiting_confirmation", final: false });
  conformsToDoc(tg.gw, "GET /app/checkout/:id/status", status);
  const svg = await fetch(`${base}/app/checkout/${sessionId}/qr.svg`);
  expect(svg.headers.get("content-type")).toBe("image/svg+xml");
  conformsToDoc(tg.gw, "GET /app/checkout/:id/qr.svg", await svg.text());

  // The phone's camera app opens the URL: the same checkout page, where the phone signs in with its passkey.
  await phone.page.goto(text);
  expect(await phone.page.locator("#approve-box").isVisible()).toBe(false); // no QR to scan on the phone itself
  await phone.page.getByRole("button", { name: "Use a passkey" }).click();
  await phone.page.getByRole("heading", { level: 1, name: "Checkout" }).waitFor();
  const card = phone.page.locator(`#checkout-body article[data-session="${sessionId}"]`);
  expect(await card.getByRole("heading").textContent()).toBe("Merchant 500 requests 12.50 USD");
  await phone.page.screenshot({ path: outputPath("approve-phone-confirm.png"), fullPage: true });
  const t0 = performance.now();
  await card.getByRole("button", { name: "Confirm" }).click();
  await desk.page.waitForURL(shopUrl("/ok"), { timeout: 10_000 });
  console.log(`[web] phone confirm click → desktop on the merchant's success page: ${(performance.now() - t0).toFixed(0)} ms`);
  await desk.page.getByRole("heading", { name: "Thank you for your order" }).waitFor();
  await phone.page.waitForURL(shopUrl("/ok"), { timeout: 5_000 });

  expect(balance(tg, `user:${user.id}`)).toBe(3000n - 1250n);
  await until(() => balance(tg, "peer:102") - mgBefore === 1250n, "MG credited");
  expect((await mg.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`)).json.status).toBe("paid");
  const final = await fetch(`${base}/app/checkout/${sessionId}/status`).then((r) => r.json());
  expect(final).toMatchObject({ final: true, redirect: shopUrl("/ok") });
  expect(["confirmed", "paid"]).toContain(final.status);
  // Answered: no more QR for it.
  expect((await fetch(`${base}/app/checkout/${sessionId}/qr.svg`)).status).toBe(409);
});

test("the wallet's Scan reads a photo of the desktop's QR → the same confirm/decline card → Decline → the desktop lands on the cancel URL", async () => {
  const { user, token } = addUser(tg, "sol", "USD:30.00");
  const phone = await phoneWithPasskey("sol", token);
  const { sessionId, url, order } = await createCheckout("3.00");
  const desk = await desktopPage();
  await desk.page.goto(url);
  const { text, png } = await desktopQr(desk.page, sessionId);

  // Signed in on the phone's wallet page (passkey), Scan → a photo of the desktop screen.
  await phone.page.goto(base + "/");
  await phone.page.getByRole("button", { name: "Use a passkey" }).click();
  await phone.page.getByRole("heading", { level: 1, name: "Hello, sol" }).waitFor();
  const session = (await phone.page.evaluate(() => sessionStorage.getItem("oc.token")))!;
  const scanned = await app(tg, session, "POST", "/app/scan", { qrContent: text });
  expect(scanned.json).toMatchObject({ sessionId, kind: "checkout", merchant: { ocid: 500 }, order: { id: order.id, amount: "3.00" } });
  conformsToDoc(tg.gw, "POST /app/scan", scanned.json);
  await phone.page.getByRole("button", { name: "Scan", exact: true }).click();
  await phone.page.locator("#scan-file").setInputFiles({ name: "desktop.png", mimeType: "image/png", buffer: png });
  const card = phone.page.locator(`#scan-sheet article[data-session="${sessionId}"]`);
  await card.waitFor();
  expect(await card.getByRole("heading").first().textContent()).toContain("3.00 USD");
  await phone.page.screenshot({ path: outputPath("approve-phone-scan.png") });
  await card.getByRole("button", { name: "Decline" }).click();
  await desk.page.waitForURL(shopUrl("/cancel"), { timeout: 10_000 });
  await desk.page.getByRole("heading", { name: "Order cancelled" }).waitFor();
  expect(balance(tg, `user:${user.id}`)).toBe(3000n);
  expect((await mg.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`)).json.status).toBe("declined");
  // Scanning it again: already answered; another wallet's checkout URL is refused without any lookup.
  const again = await app(tg, session, "POST", "/app/scan", { qrContent: text });
  expect(again.status).toBeGreaterThanOrEqual(400);
  const other = await app(tg, session, "POST", "/app/scan", { qrContent: `https://other-wallet.example/checkout/${sessionId}` });
  expect(other).toMatchObject({ status: 400, json: { error: { code: "NOT_A_MERCHANT", details: { reason: "other_wallet_checkout" } } } });
});

test("passkey sign-in on the checkout page itself (the second way): the desktop signs in there and confirms", async () => {
  const { user, token } = addUser(tg, "tia", "USD:10.00");
  const desk = await desktopPage();
  await addVirtualAuthenticator(desk.context, desk.page);
  // Register a passkey on this computer first (wallet page), then sign out.
  await desk.page.goto(base + "/");
  await desk.page.getByLabel("Access token").fill(token);
  await desk.page.getByRole("button", { name: "Sign in" }).click();
  await desk.page.getByRole("heading", { level: 1, name: "Hello, tia" }).waitFor();
  await desk.page.getByRole("button", { name: "Add a passkey" }).click();
  await desk.page.locator("#passkeys li").first().waitFor();
  await desk.page.getByRole("button", { name: "Sign out" }).click();
  await desk.page.getByRole("heading", { name: "Sign in" }).waitFor();

  const { sessionId, url } = await createCheckout("2.00");
  await desk.page.goto(url);
  await desk.page.locator("#checkout-preview article").waitFor();
  await desk.page.getByRole("button", { name: "Use a passkey" }).click();
  const card = desk.page.locator(`#checkout-body article[data-session="${sessionId}"]`);
  await card.getByRole("button", { name: "Confirm" }).click();
  await desk.page.waitForURL(shopUrl("/ok"), { timeout: 10_000 });
  expect(balance(tg, `user:${user.id}`)).toBe(800n);
});
