// Issue 21 in real Chromium: the wallet shows the tier and its limits; Verify → the KYC provider's own page (a
// peer with its own key) → Share all → the gateway's callback (signed validate + data) → back on the wallet,
// which shows the new tier and its limits. Nothing is faked: the browser follows the real redirects.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser } from "../helpers/wallet";
import { KycProvider } from "../helpers/kyc-provider";
import { auditA11y, closePages, launchChromium, outputPath, phonePage, type PhonePage } from "./browser";
import { KYC_TIERS } from "../kyc/config";

let tg: TestGateway;
let provider: KycProvider;
let browser: Browser;
const pages: PhonePage[] = [];

beforeAll(async () => {
  tg = await startTestGateway({ rateLimits: NO_RATE_LIMITS, kyc: { providers: [900], tiers: KYC_TIERS } });
  provider = await KycProvider.start(tg, 900);
  browser = await launchChromium();
});
afterAll(async () => {
  await closePages(pages);
  await browser?.close();
  await provider?.stop();
  await tg?.close();
});

test("Verify: wallet → provider page → callback → wallet shows the new tier and limits", async () => {
  const { token } = addUser(tg, "kyra", "USD:10.00");
  const p = await phonePage(browser);
  pages.push(p);
  const { page } = p;
  await page.goto(tg.url + "/");
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view-wallet").waitFor();
  await page.locator("#kyc-card").waitFor();
  expect(await page.locator("#kyc-tier").textContent()).toBe("basic");
  expect(await page.locator("#kyc-limits").innerText()).toContain("50.00");
  await page.locator("#kyc-card").scrollIntoViewIfNeeded();
  expect(await auditA11y(page)).toEqual([]);

  // No OCID of their own: the form asks for the one held at the provider, and says so when it is missing.
  await page.getByRole("button", { name: "Verify to raise your limits" }).click();
  expect(await page.locator("#kyc-error").textContent()).toContain("OCID");
  await page.getByLabel("Your OCID at the verification provider").fill("7777");
  await page.getByRole("button", { name: "Verify to raise your limits" }).click();

  // The provider's own page (another origin, its own server).
  await page.waitForURL((u) => u.href.startsWith(provider.peer.endpoint + "/kyc/grant/200?"));
  expect(await page.locator("#asks").textContent()).toContain("address, identity");
  await page.getByRole("button", { name: "Share all" }).click();

  // Back on the wallet through our callback.
  await page.waitForURL((u) => u.href.startsWith(tg.url + "/?kyc=granted"));
  await page.locator("#view-wallet").waitFor();
  await page.locator("#kyc-card").waitFor();
  await page.waitForFunction(() => document.getElementById("kyc-tier")?.textContent === "full");
  expect(await page.locator("#kyc-limits").innerText()).toContain("5000.00");
  expect(await page.locator("#kyc-status").textContent()).toContain("Verification received");
  expect(await page.locator("#kyc-form").isHidden()).toBe(true); // the top tier: nothing left to verify
  const calls = provider.peer.received.filter((r) => r.method === "POST" && r.path.startsWith("/opencharge/kyc/"));
  expect(calls.map((r) => [r.path, r.authentic])).toEqual([["/opencharge/kyc/validate", true], ["/opencharge/kyc/data", true]]);
  await page.screenshot({ path: outputPath("kyc-verified.png") });
  expect(await closePages(pages)).toEqual([]);
});
