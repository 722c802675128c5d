// Issue 19 in real Chromium, at 375×667 and 1280×800: the QR, its countdown and Cancel inside the viewport after
// Pay; history that does not show money leaving when it did not; open codes listed and cancelled; the offline
// banner while the server is really down (a TCP relay in front of it is stopped) and gone after it returns; the
// hosted checkout's order before sign-in; axe-core on every view. Screenshots under tests/output/.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { makeOrder, type TestPeer } from "../peers/kit";
import { closePages, launchChromium, outputPath, until, type PhonePage } from "./browser";
import { Relay } from "./proxy";

const VIEWPORTS = { phone: { width: 375, height: 667 }, desktop: { width: 1280, height: 800 } } as const;
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let tg: TestGateway;
let merchant: TestPeer;
let mg: TestPeer;
let browser: Browser;
const pages: PhonePage[] = [];

beforeAll(async () => {
  tg = await startTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 50, partners: [{ ocid: 102, reserveCurrencies: ["USD"] }] });
  merchant = await startMerchant(tg, 510, { name: "Café Lumière" });
  mg = await startMerchant(tg, 102);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await merchant?.stop();
  await mg?.stop();
  await tg?.close();
});
afterEach(async () => {
  // Failed requests while the server is down are the point of the offline test; nothing else may log errors.
  const problems = (await closePages(pages)).filter((p) => !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection/.test(p));
  expect(problems).toEqual([]);
});

async function open(viewport: { width: number; height: number }, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport.width < 600, hasTouch: viewport.width < 600, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(8_000);
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  pages.push({ context, page, problems });
  await page.goto(url);
  return page;
}

async function signIn(page: Page, token: string) {
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view-wallet").waitFor();
}

/** axe-core (from npm) on what is on screen: no serious or critical violation. */
async function axe(page: Page, view: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  expect({ view, serious: violations.filter((v) => v.impact === "serious" || v.impact === "critical") }).toEqual({ view, serious: [] });
}

function inside(box: { x: number; y: number; width: number; height: number } | null, vp: { width: number; height: number }) {
  return !!box && box.y >= 0 && box.x >= 0 && box.y + box.height <= vp.height && box.x + box.width <= vp.width;
}

for (const [name, vp] of Object.entries(VIEWPORTS)) {
  test(`${name}: after Pay the QR, its countdown and Cancel are inside the viewport`, async () => {
    const { token } = addUser(tg, `qr-${name}`, "USD:100.00", "EUR:20.00");
    const page = await open(vp, tg.url);
    await axe(page, `sign-in ${name}`);
    expect(await page.locator("body").innerText()).not.toContain("Offline");
    await page.screenshot({ path: outputPath(`ux-${name}-signin.png`) });
    await signIn(page, token);
    await axe(page, `wallet ${name}`);
    await page.getByRole("button", { name: "Pay", exact: true }).click();
    await page.locator("#qr-img").waitFor({ state: "visible" });
    await until(() => page.locator("#qr-img").evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0), "QR image loaded");
    await until(async () => (await page.locator("#qr-countdown").textContent())?.startsWith("Expires in"), "countdown");
    for (const id of ["#qr-img", "#qr-countdown", "#qr-cancel"]) {
      const box = await page.locator(id).boundingBox();
      expect({ id, box, inside: inside(box, vp) }).toMatchObject({ id, inside: true });
    }
    await page.screenshot({ path: outputPath(`ux-${name}-qr.png`) });
    await axe(page, `qr ${name}`);
    await page.locator("#qr-cancel").click();
    await page.getByRole("button", { name: "Pay", exact: true }).waitFor();
  });
}

test("history: declined, expired and waiting orders carry no minus sign; a paid-for one does; merchant named after a restart of the prompt", async () => {
  const { token } = addUser(tg, "hist", "USD:100.00");
  const submitTo = async (overrides: Record<string, unknown>) => {
    const s = await app(tg, token, "POST", "/app/pay", {});
    expect((await submitOrder(merchant, tg, s.json.sessionId, orderFor(merchant, tg, overrides))).status).toBe(200);
    return s.json.sessionId as string;
  };
  const declined = await submitTo({ amount: "500.00" });
  expect((await app(tg, token, "POST", `/app/decline/${declined}`, {})).json.status).toBe("declined");
  const expired = await submitTo({ amount: "2.10", expiresAt: Math.floor(Date.now() / 1000) + 1 });
  const waiting = await submitTo({ amount: "45.00" });
  const confirmed = await submitTo({ amount: "3.00" });
  expect((await app(tg, token, "POST", `/app/confirm/${confirmed}`, {})).status).toBe(200);
  await Bun.sleep(2100);
  expect((await app(tg, token, "GET", `/app/sessions/${expired}`)).json.status).toBe("expired");
  // The directory forgetting the merchant's name (a restart before metadata is refetched) changes nothing shown.
  await tg.gw.directory.add(510, merchant.endpoint);

  const page = await open(VIEWPORTS.phone, tg.url);
  await signIn(page, token);
  const row = (sid: string) => page.locator(`#history li[data-session="${sid}"]`);
  await row(confirmed).waitFor();
  for (const sid of [declined, expired, waiting]) {
    const text = await row(sid).innerText();
    expect(text).not.toContain("−");
    expect(text).not.toContain("-");
    expect(text).toContain("not charged");
    expect(await row(sid).getAttribute("data-charged")).toBe("false");
  }
  expect(await row(declined).locator(".amt").innerText()).toBe("500.00 USD");
  expect(await row(confirmed).locator(".amt").innerText()).toBe("−3.00 USD");
  const who = await row(declined).innerText();
  expect(who).toContain("Café Lumière");
  expect(who).toContain(`OCID 510 · ${new URL(merchant.endpoint).host}`);
  await page.locator("#history").scrollIntoViewIfNeeded();
  await page.screenshot({ path: outputPath("ux-phone-history.png"), fullPage: true });
  await axe(page, "history");
});

test("open codes survive a reload and can be cancelled; signing out cancels the rest", async () => {
  const { user, token } = addUser(tg, "codes", "USD:10.00");
  const page = await open(VIEWPORTS.phone, tg.url);
  await signIn(page, token);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.locator("#qr-img").waitFor({ state: "visible" });
  await app(tg, token, "POST", "/app/pay", {});
  await page.reload();
  await page.locator("#codes li").nth(1).waitFor();
  expect(await page.locator("#codes li").count()).toBe(2);
  await page.locator("#codes-card").scrollIntoViewIfNeeded();
  await page.screenshot({ path: outputPath("ux-phone-open-codes.png") });
  await axe(page, "open codes");
  const first = await page.locator("#codes li").first().getAttribute("data-session");
  await page.locator("#codes li").first().getByRole("button", { name: /Cancel code/ }).click();
  await until(async () => (await page.locator("#codes li").count()) === 1, "one code left");
  expect(tg.gw.store.sessions.get(first!)!.status).toBe("cancelled");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Access token").waitFor();
  await until(() => tg.gw.store.sessions.open(user.id, Math.floor(Date.now() / 1000)).length === 0, "sign-out cancels open codes");
});

test("offline: a banner and disabled Pay/Confirm while the server is down; cleared when it returns", async () => {
  const relay = new Relay(tg.port);
  relay.up();
  try {
    const { token } = addUser(tg, "offline", "USD:100.00");
    const s = await app(tg, token, "POST", "/app/pay", {});
    expect((await submitOrder(merchant, tg, s.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }))).status).toBe(200);
    const page = await open(VIEWPORTS.phone, relay.url);
    await signIn(page, token);
    const confirm = page.locator(`article[data-session="${s.json.sessionId}"] .confirm`);
    await confirm.waitFor();
    expect(await page.locator("#offline-banner").isVisible()).toBe(false);

    relay.down();
    await page.locator("#offline-banner").waitFor({ state: "visible", timeout: 10_000 });
    expect(await page.getByRole("button", { name: "Pay", exact: true }).isDisabled()).toBe(true);
    expect(await confirm.isDisabled()).toBe(true);
    const banner = await page.locator("#offline-banner").boundingBox();
    expect(inside(banner, VIEWPORTS.phone)).toBe(true);
    await page.screenshot({ path: outputPath("ux-phone-offline.png") });
    await axe(page, "offline");

    relay.up();
    await page.locator("#offline-banner").waitFor({ state: "hidden", timeout: 40_000 });
    expect(await page.getByRole("button", { name: "Pay", exact: true }).isDisabled()).toBe(false);
    expect(await confirm.isDisabled()).toBe(false);
    expect(await page.locator(".error:not(:empty)").count()).toBe(0);
    await page.screenshot({ path: outputPath("ux-phone-back-online.png") });
  } finally {
    relay.down();
  }
}, 60_000);

test("hosted checkout: the order (merchant name, OCID, host, items warning) is shown before sign-in; urls.completed works", async () => {
  const order = makeOrder(510, { accepts: [102], amount: "45.00", items: [{ id: "tea", name: "Tea", quantity: 1, price: "1.00" }] });
  const created = await mg.call(tg.url, "POST", "/opencharge/checkout/create", {
    order,
    signature: merchant.signOrder(order),
    merchantOcid: 510,
    urls: { completed: "https://shop.example/done", cancelled: "https://shop.example/back" },
  });
  expect(created.status).toBe(200);
  for (const [name, vp] of Object.entries(VIEWPORTS)) {
    const page = await open(vp, created.json.checkout_url.replace(tg.gw.config.webBaseUrl, tg.url));
    const card = page.locator("#checkout-preview article");
    await card.waitFor();
    const text = await card.innerText();
    expect(text).toContain("Café Lumière requests 45.00 USD");
    expect(text).toContain(`OCID 510 · ${new URL(merchant.endpoint).host}`);
    expect(await card.locator(".mismatch").innerText()).toContain("The items add up to 1.00 USD, not the total of 45.00 USD");
    expect(await page.getByLabel("Access token").isVisible()).toBe(true);
    expect(await card.locator("button").count()).toBe(0);
    await page.screenshot({ path: outputPath(`ux-${name}-checkout-preview.png`), fullPage: true });
    await axe(page, `checkout preview ${name}`);
  }
  // Signed in, a decline goes back to the §9.4-spelled cancel URL.
  const { token } = addUser(tg, "shopper", "USD:100.00");
  const r = await app(tg, token, "POST", `/app/decline/${created.json.session_id}`, {});
  expect(r.json).toEqual({ status: "declined", redirect: "https://shop.example/back" });
});
