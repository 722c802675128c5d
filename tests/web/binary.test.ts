// The web wallet inside the single executable (`bun build --compile`), run from an empty directory: the page, its
// script and stylesheet come from the module graph, not from disk, and work end to end in Chromium (demo login, Pay).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium, phonePage } from "./browser";
import { compiledBinary, serveBinary } from "../helpers/binary";

let work: string;
let bin: string;
let browser: Browser;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "oc-web-bin-"));
  bin = compiledBinary();
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

test("the compiled binary, started from an empty directory, serves a working wallet page", async () => {
  const dir = mkdtempSync(join(work, "empty-"));
  expect(readdirSync(dir)).toEqual([]);
  const { p, url } = await serveBinary(bin, dir, ["--demo"]);
  try {
    expect(existsSync(join(dir, "web"))).toBe(false);

    const { context, page, problems } = await phonePage(browser);
    await page.goto(url + "/");
    await page.getByRole("button", { name: "Demo login" }).click();
    await page.getByRole("heading", { level: 1, name: /^Hello, demo-/ }).waitFor();
    const resp = page.waitForResponse((r) => r.url().endsWith("/app/pay"));
    await page.getByRole("button", { name: "Pay", exact: true }).click();
    const pay = (await (await resp).json()) as { qrCode: string; qrText: string };
    await page.locator("#qr-img").waitFor({ state: "visible" });
    expect(await page.locator("#qr-img").getAttribute("src")).toBe(pay.qrCode);
    expect(await page.locator("#qr-text").textContent()).toBe(pay.qrText);
    await page.goto(`${url}/checkout/${"0".repeat(32)}`);
    await page.getByRole("heading", { level: 1, name: "Checkout" }).waitFor();
    await page.goto("about:blank"); // no socket may open while the context closes (see closePages)
    await context.close();
    expect(problems.filter((m) => !m.includes("status of 404"))).toEqual([]);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
});
