// Issue 19: the API reference and the "How to sign" guide, served by the gateway, in real Chromium with every
// request intercepted (nothing may leave loopback): every /app and protocol route rendered with its summary and
// responses, the worked examples equal to the test vectors, demo-only routes only in demo mode, axe-core clean.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { launchChromium, outputPath } from "./browser";
import { createApp } from "../../src/routes/server";
import V from "../vectors/opencharge-vectors.json";

const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
let tg: TestGateway;
let plain: TestGateway;
let browser: Browser;

beforeAll(async () => {
  tg = await startTestGateway({ demoMode: true, rateLimits: NO_RATE_LIMITS });
  plain = await startTestGateway({ rateLimits: NO_RATE_LIMITS });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await tg?.close();
  await plain?.close();
});

/** A page whose every request is checked: loopback goes through, anything else is aborted and recorded. */
async function offlinePage(viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport, locale: "en-US" });
  const outside: string[] = [];
  const loopback: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" || url.hostname === "localhost") {
      loopback.push(url.pathname);
      return route.continue();
    }
    outside.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  return { context, page, outside, loopback, problems };
}

async function axe(page: Page, view: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n: any) => n.target.join(" ")) }));
  });
  expect({ view, serious: violations.filter((v: any) => v.impact === "serious" || v.impact === "critical") }).toEqual({ view, serious: [] });
}

test("the reference renders every /app and protocol route with summary and responses, offline", { timeout: 240_000 }, async () => {
  const routes = (createApp(tg.gw) as unknown as { routes: { method: string; path: string }[] }).routes.filter(
    (r) => r.method !== "WS" && (r.path.startsWith("/app/") || (r.path.startsWith("/opencharge/") && !/\/(openapi\.json|docs.*)$/.test(r.path))),
  );
  expect(routes.length).toBeGreaterThan(15);
  const doc = await (await fetch(`${tg.url}/opencharge/openapi.json`)).json();
  for (const vp of [{ width: 1280, height: 800 }, { width: 375, height: 667 }]) {
    const p = await offlinePage(vp);
    const res = await p.page.goto(`${tg.url}/opencharge/docs`);
    expect(res!.headers()["content-security-policy"]).toContain("default-src 'none'");
    // One read of the rendered page: every operation section's text and how many tables it has.
    const sections = await p.page.evaluate(() =>
      Object.fromEntries(Array.from(document.querySelectorAll("section.op")).map((s) => [s.id, { text: (s as HTMLElement).innerText, tables: s.querySelectorAll("table").length }])),
    );
    for (const r of routes) {
      const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
      const op = doc.paths[path][r.method.toLowerCase()];
      const id = `${r.method}-${path}`.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
      const route = `${r.method} ${r.path}`;
      const section = sections[id];
      expect({ route, rendered: !!section }).toEqual({ route, rendered: true });
      expect(op.summary).not.toBe(`${r.method} ${path}`);
      expect(section!.text).toContain(op.summary);
      for (const status of Object.keys(op.responses)) expect({ route, status, shown: section!.text.includes(status) }).toEqual({ route, status, shown: true });
      if (op.responses["200"]?.content?.["application/json"]?.schema?.properties) expect({ route, tables: section!.tables > 0 }).toEqual({ route, tables: true });
    }
    expect(await p.page.locator("section#websocket h4 code", { hasText: "payment_request" }).count()).toBe(1);
    await p.page.screenshot({ path: outputPath(`reference-${vp.width}.png`) });
    // Once with every field table and example open (the slow pass: every cell's contrast), once as it loads.
    if (vp.width > 1000) await p.page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
    await axe(p.page, `reference ${vp.width}${vp.width > 1000 ? " (all details open)" : ""}`);
    expect(p.outside).toEqual([]);
    expect(p.loopback).toEqual(["/opencharge/docs", "/opencharge/docs/reference.css"]);
    expect(p.problems).toEqual([]);
    await p.context.close();
  }
});

test("How to sign: the worked examples are the test vectors' numbers", async () => {
  const p = await offlinePage({ width: 375, height: 667 });
  await p.page.goto(`${tg.url}/opencharge/docs/signing`);
  const cells = async (id: string) => p.page.locator(`#${id} td`).allInnerTexts();
  const rq = V.requestSignature.docsExample;
  expect(await cells("example-request")).toEqual([rq.body, rq.bodySha256, rq.canonical.replaceAll("\n", "\\n"), rq.canonicalSha256, rq.headers["X-OC-Signature"]]);
  const rs = V.responseSignature.sessionSubmitOk;
  expect(await cells("example-response")).toEqual([rs.body, rs.bodySha256, rs.canonical.replaceAll("\n", "\\n"), rs.headers["X-OC-Signature"]]);
  expect(await cells("example-order")).toEqual([V.order.deep.canonical, V.order.deep.sha256, V.order.deep.signature]);
  expect(await cells("example-proof")).toEqual([V.proof.deep.canonical, V.proof.deep.sha256, V.proof.deep.signature]);
  await p.page.screenshot({ path: outputPath("signing-guide-375.png"), fullPage: true });
  await axe(p.page, "signing guide");
  expect(p.outside).toEqual([]);
  expect(p.problems).toEqual([]);
  await p.context.close();
});

test("demo-only routes are documented only in demo mode; checkout/create documents both URL spellings", async () => {
  const demoDoc = await (await fetch(`${tg.url}/opencharge/openapi.json`)).json();
  expect(demoDoc.paths["/app/demo/login"].post.description).toContain("Demo mode only");
  const doc = await (await fetch(`${plain.url}/opencharge/openapi.json`)).json();
  expect(doc.paths["/app/demo/login"]).toBeUndefined();
  const page = await (await fetch(`${plain.url}/opencharge/docs`)).text();
  expect(page).not.toContain("/app/demo/login");
  const co = doc.paths["/opencharge/checkout/create"].post;
  expect(co.description).toContain("urls.completed");
  expect(Object.keys(co.requestBody.content["application/json"].schema.properties.urls.properties).sort()).toEqual(["cancel", "cancelled", "completed", "success"]);
});
