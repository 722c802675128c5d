// Issue 17 step 6: the web wallet's Send (recipient, amount, review, confirm), Receive (QR + copyable handle) and
// Top up (to another gateway's hosted checkout and back) in real headless Chromium at phone size; the recipient's
// open wallet shows the credit live; both histories name the other party.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { Browser, Page } from "playwright-core";
import { startTestGateway, NO_RATE_LIMITS, type TestGateway } from "../helpers/gateway";
import { addUser, assertLedgerBalanced, balance } from "../helpers/wallet";
import { setUserOcid } from "../../src/flows/end-user-ocid";
import { auditA11y, closePages, launchChromium, outputPath, phonePage, until, type PhonePage } from "./browser";

let A: TestGateway;
let B: TestGateway;
let browser: Browser;
const pages: PhonePage[] = [];

beforeAll(async () => {
  A = await startTestGateway({ ocid: 300, name: "Gateway A", acceptIssuers: [400], rateLimits: NO_RATE_LIMITS });
  B = await startTestGateway({ ocid: 400, name: "Gateway B", rateLimits: NO_RATE_LIMITS });
  await A.gw.directory.add(400, B.gw.config.endpoint);
  await B.gw.directory.add(300, A.gw.config.endpoint);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([A?.close(), B?.close()]);
});
afterEach(async () => {
  // The one failed request a test provokes on purpose (the 402 of a send above the balance) is not a page fault.
  expect((await closePages(pages)).filter((p) => !p.includes("status of 402"))).toEqual([]);
  assertLedgerBalanced(A);
  assertLedgerBalanced(B);
});

async function signedIn(g: TestGateway, token: string, name: string): Promise<Page> {
  const p = await phonePage(browser);
  pages.push(p);
  await p.page.goto(g.url + "/");
  await p.page.getByLabel("Access token").fill(token);
  await p.page.getByRole("button", { name: "Sign in" }).click();
  await p.page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
  await until(async () => (await p.page.locator("#conn").getAttribute("data-state")) === "online", "socket online");
  return p.page;
}

function decodeQr(png: Buffer): string | null {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data ?? null;
}

test("Send: recipient → amount → review → confirm; the recipient's open wallet shows it live; both histories name the other", async () => {
  const alice = addUser(A, "alice", "USD:20.00");
  const bob = addUser(A, "bob");
  const bobPage = await signedIn(A, bob.token, "bob");
  const page = await signedIn(A, alice.token, "alice");
  await page.getByLabel("Recipient").fill("bob");
  await page.getByLabel("How much", { exact: true }).fill("3.50");
  await page.getByLabel("Send in").selectOption("USD");
  await page.getByLabel("Note (optional)").fill("coffee");
  await page.getByRole("button", { name: "Review" }).click();
  await page.getByRole("heading", { name: "Check before sending" }).waitFor();
  expect(await page.locator("#review-to").textContent()).toBe("bob");
  expect(await page.locator("#review-amount").textContent()).toBe("3.50 USD");
  expect(balance(A, `user:${bob.user.id}`)).toBe(0n); // nothing moves before the confirm
  expect(await auditA11y(page)).toEqual([]);
  await page.screenshot({ path: outputPath("send-review.png"), fullPage: true });
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await until(async () => (await page.locator("#send-result").getAttribute("data-status")) === "paid", "sent");
  expect(await page.locator("#send-result").textContent()).toBe("Sent: 3.50 USD to bob");
  await until(async () => (await page.locator('#balances li[data-currency="USD"] .amount').textContent()) === "16.50", "sender balance");

  await bobPage.locator("#credit-note").waitFor({ state: "visible" });
  expect(await bobPage.locator("#credit-note").textContent()).toBe("Received: 3.50 USD from alice");
  await until(async () => (await bobPage.locator('#balances li[data-currency="USD"] .amount').textContent()) === "3.50", "recipient balance live");
  await until(async () => (await bobPage.locator('#history li[data-kind="received"] .what').first().textContent()) === "From alice", "recipient history");
  await until(async () => (await page.locator('#history li[data-kind="sent"] .what').first().textContent()) === "To bob", "sender history");
  await bobPage.screenshot({ path: outputPath("send-received.png"), fullPage: true });

  // Too much: the server's answer, nothing moves, the form comes back.
  await page.getByLabel("Recipient").fill("bob");
  await page.getByLabel("How much", { exact: true }).fill("99.00");
  await page.getByRole("button", { name: "Review" }).click();
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await until(async () => (await page.locator("#send-result").textContent()) === "Your balance is too low for this transfer.", "402 shown");
  expect(balance(A, `user:${alice.user.id}`)).toBe(1650n);
});

test("Receive: the QR on screen decodes to the ocid_transfer payload; the handle is shown and can be copied", async () => {
  const cleo = addUser(A, "cleo");
  await setUserOcid(A.gw, "cleo", "3333");
  const page = await signedIn(A, cleo.token, "cleo");
  expect(await page.locator("#my-handle").textContent()).toBe("cleo");
  await page.getByRole("button", { name: "Show my receive code" }).click();
  await page.locator("#receive-img").waitFor({ state: "visible" });
  expect(decodeQr(await page.locator("#receive-img").screenshot())).toBe('{"type":"ocid_transfer","ocid":3333,"gateway":300}');
  expect(await page.locator("#receive-ocid").textContent()).toBe("Your OCID: 3333 (gateway 300)");
  await page.getByRole("button", { name: "Copy" }).click();
  await until(async () => ((await page.locator("#copy-status").textContent()) ?? "").length > 0, "copy feedback");
  expect(await auditA11y(page)).toEqual([]);
  await page.screenshot({ path: outputPath("receive.png"), fullPage: true });
});

test("Top up: the form sends the browser to B's hosted checkout; after paying there it comes back and shows the credit", async () => {
  const dina = addUser(A, "dina");
  const payer = addUser(B, "dina at B", "USD:50.00");
  const page = await signedIn(A, dina.token, "dina");
  await page.getByLabel("Pay through gateway (OCID)").fill("400");
  await page.getByLabel("How much to add").fill("12.00");
  await page.getByLabel("Add in").selectOption("USD");
  await page.getByRole("button", { name: "Pay at that gateway" }).click();
  await page.waitForURL(new RegExp(`^${B.gw.config.webBaseUrl}/checkout/`));
  await page.getByLabel("Access token").fill(payer.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  const card = page.locator("#checkout-body article");
  expect(await card.getByRole("heading").textContent()).toBe("Gateway A requests 12.00 USD");
  await card.getByRole("button", { name: "Confirm" }).click();
  await page.waitForURL(new RegExp(`^${A.gw.config.webBaseUrl}/\\?topup=topup_`), { timeout: 10_000 });
  await page.getByRole("heading", { level: 1, name: "Hello, dina" }).waitFor();
  await until(async () => (await page.locator("#topup-status").getAttribute("data-status")) === "credited", "top-up credited", 10_000);
  await until(async () => (await page.locator('#balances li[data-currency="USD"] .amount').textContent()) === "12.00", "balance");
  await until(async () => (await page.locator('#history li[data-kind="topup"] .what').first().textContent()) === "Top-up via gateway 400", "history");
  expect(balance(A, `user:${dina.user.id}`)).toBe(1200n);
  expect(balance(B, `user:${payer.user.id}`)).toBe(3800n);
  await page.screenshot({ path: outputPath("topup-back.png"), fullPage: true });
}, 45_000);

test("Scan a person's receive code (pasted): the sheet closes and Send is prefilled with their OCID and name; it pays", async () => {
  const eve = addUser(A, "eve");
  await setUserOcid(A.gw, "eve", "3444");
  const fred = addUser(A, "fred", "USD:5.00");
  const page = await signedIn(A, fred.token, "fred");
  await page.getByRole("button", { name: "Scan", exact: true }).click();
  await page.getByRole("button", { name: "Paste code" }).click();
  await page.getByLabel("Code contents").fill('{"type":"ocid_transfer","ocid":3444,"gateway":300}');
  await page.getByRole("button", { name: "Use this code" }).click();
  await until(async () => (await page.locator("#send-to").inputValue()) === "3444", "prefilled recipient");
  expect(await page.locator("#send-to-help").textContent()).toBe("eve at gateway 300 (from their receive code).");
  await page.getByLabel("How much", { exact: true }).fill("2.00");
  await page.getByLabel("Send in").selectOption("USD");
  await page.getByRole("button", { name: "Review" }).click();
  expect(await page.locator("#review-to").textContent()).toBe("OCID 3444");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await until(async () => (await page.locator("#send-result").textContent()) === "Sent: 2.00 USD to eve", "sent");
  expect(balance(A, `user:${eve.user.id}`)).toBe(200n);
});
