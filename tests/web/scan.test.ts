// Issue 13 in real headless Chromium at 375×667: Scan → the camera (Chromium's fake device playing a .y4m video
// of the merchant's QR, written here from the QR's own modules) → preview → Confirm → paid; the paste and
// choose-image fallbacks; the inventory quantity picker; an amount prompt for an opencharge: sticker.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import QRCode from "qrcode";
import type { Browser, Page } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app, assertLedgerBalanced, balance } from "../helpers/wallet";
import { startPosMerchant, startVendingMerchant } from "../helpers/scan-merchants";
import { auditA11y, closePages, launchChromium, outputPath, PHONE, phonePage, until, type PhonePage } from "./browser";

let tg: TestGateway;
let pos: Awaited<ReturnType<typeof startPosMerchant>>;
let vend: Awaited<ReturnType<typeof startVendingMerchant>>;
let stall: Awaited<ReturnType<typeof startPosMerchant>>;
let browser: Browser;
const pages: PhonePage[] = [];
const tmp = mkdtempSync(join(tmpdir(), "oc-scan-web-"));

beforeAll(async () => {
  tg = await startTestGateway({ rateLimits: NO_RATE_LIMITS });
  pos = await startPosMerchant(tg, 510, "Corner Café");
  vend = await startVendingMerchant(tg, 530, "Vendo Snacks");
  stall = await startPosMerchant(tg, 520, "Market Stall");
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  for (const m of [pos, vend, stall]) await m?.peer.stop();
  await tg?.close();
});
afterEach(async () => {
  // Refused scans are 4xx answers the page shows as messages (asserted in the tests); anything else is a defect.
  const problems = await closePages(pages);
  expect(problems.filter((p) => !/Failed to load resource: the server responded with a status of 400/.test(p))).toEqual([]);
  assertLedgerBalanced(tg);
});

/**
 * A YUV4MPEG2 (4:2:0, full range) video of the QR code: the QR's modules drawn as dark squares on a light page,
 * `blank` frames of an empty page first (so the camera view can be seen before the code comes into view).
 */
function qrVideo(text: string, blank = 0, frames = 15): string {
  const W = 640, H = 480;
  const qr = QRCode.create(text, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const quiet = 4;
  const scale = Math.floor((Math.min(W, H) * 0.9) / (n + 2 * quiet));
  const x0 = Math.floor((W - scale * (n + 2 * quiet)) / 2) + quiet * scale;
  const y0 = Math.floor((H - scale * (n + 2 * quiet)) / 2) + quiet * scale;
  const page = new Uint8Array(W * H).fill(235);
  const code = new Uint8Array(page);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++)
      if (qr.modules.get(r, c))
        for (let y = 0; y < scale; y++) code.fill(16, (y0 + r * scale + y) * W + x0 + c * scale, (y0 + r * scale + y) * W + x0 + (c + 1) * scale);
  const chroma = new Uint8Array((W / 2) * (H / 2) * 2).fill(128);
  const parts: Uint8Array[] = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let i = 0; i < blank + frames; i++) parts.push(Buffer.from("FRAME\n"), i < blank ? page : code, chroma);
  const path = join(tmp, `qr-${Math.random().toString(16).slice(2)}.y4m`);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

async function open(b: Browser = browser) {
  const p = await phonePage(b);
  pages.push(p);
  await p.context.grantPermissions(["camera"], { origin: tg.url }).catch(() => undefined);
  await p.page.goto(tg.url + "/");
  return p.page;
}

async function signIn(page: Page, token: string, name: string) {
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
}

/** Confirm is on screen at 375×667 without scrolling anything. */
async function confirmReachable(page: Page) {
  const box = (await page.getByRole("button", { name: "Confirm" }).boundingBox())!;
  expect(box.y).toBeGreaterThan(0);
  expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
  expect(await page.evaluate(() => [window.scrollY, document.getElementById("scan-body")!.scrollTop])).toEqual([0, 0]);
}

test("camera: the fake camera shows the POS's order QR → preview with merchant identity → Confirm → paid", async () => {
  const { user, token } = addUser(tg, "Cam", "USD:50.00");
  const { order, qr } = pos.show({ amount: "12.40", reference: "TABLE-7", items: [
    { id: "flat-white", name: "Flat white", quantity: 2, price: "4.20" },
    { id: "croissant", name: "Croissant", quantity: 1, price: "4.00" },
  ] });
  const camBrowser = await launchChromium(["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${qrVideo(qr, 20)}`]);
  try {
    const page = await open(camBrowser);
    await signIn(page, token, "Cam");
    await page.screenshot({ path: outputPath("scan-wallet.png") });
    await page.getByRole("button", { name: "Scan", exact: true }).click();
    await page.locator("#scan-video").waitFor();
    // The video opens on an empty page for 2 s (20 frames), then the code comes into view.
    const live = await page
      .waitForFunction(() => /Point the camera/.test(document.getElementById("scan-status")?.textContent ?? "") || !!document.querySelector("#scan-body article"), undefined, { timeout: 10_000 })
      .then(() => page.evaluate(() => !document.querySelector("#scan-body article")));
    if (live) await page.screenshot({ path: outputPath("scan-camera.png") });
    // The video plays the code; the page decodes it and asks the gateway, which fetches the order from the POS.
    await page.locator("#scan-body article.order").waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => document.body.dataset.scannedWith)).toBe("camera");
    expect(["jsQR", "BarcodeDetector"]).toContain((await page.evaluate(() => document.body.dataset.decoder))!);
    const host = new URL(pos.peer.endpoint).host;
    const card = page.locator("#scan-body article.order");
    expect(await card.locator(".merchant-id").textContent()).toBe(`OCID 510 · ${host}`);
    expect(await card.locator("h3").textContent()).toBe("Corner Café requests 12.40 USD");
    expect(await card.locator(".items li").allInnerTexts()).toEqual(["Flat white\n2 × 4.20", "Croissant\n1 × 4.00"]);
    expect(await card.locator(".total .amount").textContent()).toBe("12.40 USD");
    await confirmReachable(page);
    expect(await auditA11y(page)).toEqual([]);
    await page.screenshot({ path: outputPath("scan-camera-preview.png") });
    // The camera is off once the code is read.
    expect(await page.evaluate(() => (document.getElementById("scan-video") as HTMLVideoElement | null)?.srcObject ?? null)).toBeNull();

    await page.getByRole("button", { name: "Confirm" }).click();
    await until(async () => (await card.getAttribute("data-status")) === "paid", "paid over the WebSocket", 10_000);
    expect(await card.locator(".status").textContent()).toBe("Paid");
    await page.screenshot({ path: outputPath("scan-camera-paid.png") });
    const st = (await pos.peer.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`)).json;
    expect(st.proof.to).toEqual({ ocid: 510, reference: order.id });
    await until(() => pos.webhooks.some((w) => w.proof?.txid === st.txid && w.verified === "deep" && w.known), "the POS verified our proof");
    expect(balance(tg, `user:${user.id}`)).toBe(5000n - 1240n);

    await page.getByRole("button", { name: "Done" }).click();
    await page.locator("#scan-sheet").waitFor({ state: "hidden" });
    await until(async () => (await page.locator("#history li").first().innerText().catch(() => "")).includes("Paid"), "history shows the payment");
    expect(await page.locator("#history li").first().innerText()).toContain("Corner Café");
    expect(await page.locator('#balances li[data-currency="USD"] .amount').textContent()).toBe("37.60");
  } finally {
    await closePages(pages);
    await camBrowser.close();
  }
}, 60_000);

test("no camera → paste an opencharge: sticker → amount prompt → preview → Decline; a bad code says what it is", async () => {
  const { user, token } = addUser(tg, "Paste", "USD:20.00");
  const page = await open();
  await signIn(page, token, "Paste");
  await page.getByRole("button", { name: "Scan", exact: true }).click();
  await until(async () => /not available|No camera/.test((await page.locator("#scan-status").textContent()) ?? ""), "the no-camera hint");
  await page.screenshot({ path: outputPath("scan-no-camera.png") });

  await page.getByRole("button", { name: "Paste code" }).click();
  await page.getByLabel("Code contents").fill("https://example.com/not-a-payment");
  await page.getByRole("button", { name: "Use this code" }).click();
  expect(await page.locator("#scan-error").textContent()).toBe("This is not a payment code this wallet can read.");
  await page.screenshot({ path: outputPath("scan-error.png") });

  await page.getByRole("button", { name: "Paste code" }).click();
  await page.getByLabel("Code contents").fill("opencharge:520");
  await page.getByRole("button", { name: "Use this code" }).click();
  await page.getByLabel("Amount").waitFor();
  expect(await page.locator("#scan-merchant .m-meta").textContent()).toBe(`OCID 520 · ${new URL(stall.peer.endpoint).host}`);
  await page.getByLabel("Amount").fill("7.25");
  await page.getByLabel("Currency").selectOption("USD");
  await page.screenshot({ path: outputPath("scan-amount.png") });
  await page.getByRole("button", { name: "Continue" }).click();
  const card = page.locator("#scan-body article.order");
  expect(await card.locator("h3").textContent()).toBe("Market Stall requests 7.25 USD");
  await confirmReachable(page);
  await page.getByRole("button", { name: "Decline" }).click();
  await until(async () => (await card.getAttribute("data-status")) === "declined", "declined");
  await page.screenshot({ path: outputPath("scan-declined.png") });
  expect(balance(tg, `user:${user.id}`)).toBe(2000n);
  await page.getByRole("button", { name: "Done" }).click();
  await until(async () => (await page.locator("#history li").first().innerText().catch(() => "")).includes("Declined"), "history shows the decline");
});

test("choose image of the vending machine's QR → quantity picker within min/max → signed order → Confirm → paid", async () => {
  const { user, token } = addUser(tg, "Vend", "USD:30.00");
  const page = await open();
  await signIn(page, token, "Vend");
  await page.getByRole("button", { name: "Scan", exact: true }).click();
  const png = await QRCode.toBuffer(vend.qr, { errorCorrectionLevel: "M", margin: 4, width: 400 });
  await page.locator("#scan-file").setInputFiles({ name: "machine.png", mimeType: "image/png", buffer: png });
  await page.getByRole("heading", { name: "Choose from Snack machine #4" }).waitFor();
  expect(await page.evaluate(() => document.body.dataset.scannedWith)).toBe("image");
  const total = page.locator("#pick-total");
  expect(await total.textContent()).toBe("0.00 USD");
  const cont = page.getByRole("button", { name: "Continue" });
  expect(await cont.isDisabled()).toBe(true);

  const more = (name: string) => page.getByRole("button", { name: `One more ${name}` });
  const less = (name: string) => page.getByRole("button", { name: `One less ${name}` });
  const qty = (id: string) => page.locator(`li[data-item="${id}"] output`).textContent();
  await more("Cola 330 ml").click();
  await more("Cola 330 ml").click();
  expect(await qty("cola")).toBe("2");
  await more("Still water").click(); // min_qty 2: the first tap gives 2
  expect(await qty("water")).toBe("2");
  for (let i = 0; i < 6; i++) if (await more("Still water").isEnabled()) await more("Still water").click();
  expect(await qty("water")).toBe("6"); // max_qty 6
  expect(await more("Still water").isDisabled()).toBe(true);
  for (let i = 0; i < 4; i++) await less("Still water").click();
  expect(await qty("water")).toBe("2");
  await less("Still water").click(); // below min_qty: none
  expect(await qty("water")).toBe("0");
  await more("Still water").click();
  expect(await more("Mint gum").isDisabled()).toBe(true); // sold out
  expect(await page.locator('li[data-item="gum"] .meta').textContent()).toBe("Sold out");
  expect(await total.textContent()).toBe("5.00 USD"); // 2 × 1.50 + 2 × 1.00
  expect(await auditA11y(page)).toEqual([]);
  const cbox = (await cont.boundingBox())!;
  expect(cbox.y + cbox.height).toBeLessThanOrEqual(PHONE.height);
  await page.screenshot({ path: outputPath("scan-inventory-picker.png") });

  await cont.click();
  const card = page.locator("#scan-body article.order");
  expect(await card.locator("h3").textContent()).toBe("Vendo Snacks requests 5.00 USD");
  const req = vend.creates().at(-1)!;
  expect(req.json.items).toEqual([{ id: "cola", quantity: 2 }, { id: "water", quantity: 2 }]);
  await confirmReachable(page);
  await page.screenshot({ path: outputPath("scan-inventory-preview.png") });
  await page.getByRole("button", { name: "Confirm" }).click();
  await until(async () => (await card.getAttribute("data-status")) === "paid", "paid", 10_000);
  await page.screenshot({ path: outputPath("scan-inventory-paid.png") });
  expect(balance(tg, `user:${user.id}`)).toBe(2500n);
});

test("closing the sheet on an unanswered order declines it, so the till can be scanned by someone else", async () => {
  const { token } = addUser(tg, "Closer", "USD:20.00");
  const { qr } = pos.show({ amount: "2.00" });
  const page = await open();
  await signIn(page, token, "Closer");
  await page.getByRole("button", { name: "Scan", exact: true }).click();
  await page.getByRole("button", { name: "Paste code" }).click();
  await page.getByLabel("Code contents").fill(qr);
  await page.getByRole("button", { name: "Use this code" }).click();
  await page.getByRole("button", { name: "Confirm" }).waitFor();
  const sid = await page.locator("#scan-body article.order").getAttribute("data-session");
  await page.getByRole("button", { name: "Close" }).click();
  await page.locator("#scan-sheet").waitFor({ state: "hidden" });
  await until(async () => (await app(tg, token, "GET", `/app/sessions/${sid}`)).json.status === "declined", "declined on close");
  const other = addUser(tg, "Next", "USD:5.00");
  expect((await app(tg, other.token, "POST", "/app/scan", { qrContent: qr })).status).toBe(200);
});
