// Real headless Chromium (Debian package `chromium`, installed by .ci/setup-extra) driven by playwright-core.
// No browser present ⇒ launch throws and the tests FAIL: CI installs it, so a missing browser is a broken setup.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.OC_CHROMIUM ?? "/usr/bin/chromium";
export const OUTPUT_DIR = join(import.meta.dir, "..", "output");
export const PHONE = { width: 375, height: 667 };

/** `extraArgs`: e.g. the fake-camera flags of the scan tests. */
type WireMessage = { guid?: string; method?: string; params?: { type?: string } };

/**
 * Playwright 1.65 sometimes delivers a WebSocket's announcement or frames after it disposed the page or socket they
 * belong to (its server builds the socket's object before checking that its page is disposed): the client then
 * throws "Cannot find parent object page@… to create ws@…" or "Cannot find object to "frameReceived": ws@…" from
 * its message loop, an unhandled error that fails whichever test runs at that moment, in 2 of 3 full runs. Such an
 * event concerns an object no test holds any more, so it is dropped (and counted); every other error is rethrown.
 */
function tolerateLateSocketEvents(browser: Browser): void {
  const connection = (browser as unknown as { _connection?: { dispatch(m: WireMessage): void } })._connection;
  if (!connection) throw new Error("playwright-core changed: Browser._connection is gone (see tolerateLateSocketEvents)");
  const dispatch = connection.dispatch.bind(connection);
  connection.dispatch = (m: WireMessage) => {
    try {
      dispatch(m);
    } catch (e) {
      const late = /^Cannot find (parent object|object to)/.test((e as Error).message ?? "");
      const aboutSockets = m.params?.type === "WebSocket" || m.guid?.startsWith("ws@") || m.method === "webSocket";
      if (!(late && aboutSockets)) throw e;
      lateSocketEvents++;
    }
  };
}
/** How many late WebSocket events Playwright delivered for disposed objects (dropped; see above). */
export let lateSocketEvents = 0;

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}. Install it with .ci/setup-extra (apt-get install -y chromium).`);
  // Under Bun 1.4.5, replies on Playwright's pipe to Chromium sometimes sit unread until some timer wakes the
  // event loop (measured: steps taking exactly 1000 ms, the gateway scheduler's tick). A 10 ms no-op ticker
  // while the browser lives keeps every step prompt.
  const ticker = setInterval(() => {}, 10);
  ticker.unref();
  try {
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      timeout: 20_000,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extraArgs],
    });
    browser.on("disconnected", () => clearInterval(ticker));
    tolerateLateSocketEvents(browser);
    return browser;
  } catch (e) {
    clearInterval(ticker);
    throw e;
  }
}

export type PhonePage = { context: BrowserContext; page: Page; problems: string[] };

/** A phone-sized page that records console errors, page errors and failed requests (CSP violations show up here). */
export async function phonePage(browser: Browser): Promise<PhonePage> {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(8_000);
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page, problems };
}

/** Closes every page a test opened and returns the console errors / failed requests they collected. */
export async function closePages(pages: PhonePage[]): Promise<string[]> {
  const problems: string[] = [];
  for (const p of pages.splice(0)) {
    problems.push(...p.problems);
    // Why about:blank first: a page whose app reopens its WebSocket while its context closes makes Playwright
    // (1.65) announce the new socket for a page it already disposed ("Cannot find parent object page@… to create
    // ws@…"), an unhandled error that fails whichever test runs at that moment. A blank page runs no script, so
    // nothing can open a socket during the close. Errors it logs while leaving are the leaving's, not the test's.
    await p.page.goto("about:blank").catch(() => {});
    await p.context.close();
  }
  return problems;
}

export function outputPath(name: string): string {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return join(OUTPUT_DIR, name);
}

/** Waits until `pred()` is truthy (polling), or throws with `what`. */
export async function until<T>(pred: () => T | Promise<T>, what: string, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/**
 * A small accessibility audit of what is on screen: every visible text meets WCAG AA contrast against its
 * nearest opaque background (4.5:1, or 3:1 for large text), and every visible control has an accessible name.
 */
export async function auditA11y(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Rgb = { r: number; g: number; b: number; a: number };
    const out: string[] = [];
    const parse = (c: string): Rgb | null => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const p = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r: p[0]!, g: p[1]!, b: p[2]!, a: p[3] ?? 1 };
    };
    const lum = (c: Rgb) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const background = (el: Element | null): Rgb => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent?.trim();
      const el = n.parentElement;
      if (!text || !el || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      if (el.closest("button:disabled, .sr-only, .skip")) continue;
      const cs = getComputedStyle(el);
      const fg = parse(cs.color);
      if (!fg) continue;
      const bg = background(el);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a) as [number, number];
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`contrast ${ratio.toFixed(2)} for "${text.slice(0, 40)}"`);
    }
    for (const el of Array.from(document.querySelectorAll<HTMLElement>("input, button, a[href], img"))) {
      if (!el.checkVisibility()) continue;
      const named =
        el instanceof HTMLInputElement
          ? (el.labels?.length ?? 0) > 0 || !!el.getAttribute("aria-label")
          : el instanceof HTMLImageElement
            ? !!el.alt
            : !!(el.textContent?.trim() || el.getAttribute("aria-label"));
      if (!named) out.push(`no accessible name: <${el.tagName.toLowerCase()} id="${el.id}">`);
      const r = el.getBoundingClientRect();
      if (el.tagName === "BUTTON" && (r.height < 44 || r.width < 44)) out.push(`touch target ${r.width}×${r.height}: ${el.textContent?.trim()}`);
    }
    return out;
  });
}
