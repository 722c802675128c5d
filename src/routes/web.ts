// The web wallet page at `/` and the hosted checkout page at `/checkout/{sessionId}` (SPEC §1, §9.6): one HTML shell,
// one script, one stylesheet. All three are part of the JS module graph — the HTML as a text import, the bundled
// script and the CSS inlined by a build-time macro — so `bun build --compile` carries them and nothing is read
// from disk at run time. The page talks only to the wallet app API (§10).
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import shellText from "../../web/index.html" with { type: "text" };
import { webAssets } from "../../web/build" with { type: "macro" };

const assets = webAssets();
// bun-types declares *.html imports as HTML bundles; with `type: "text"` it is the file's text.
const shell = shellText as unknown as string;

const hash = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex").slice(0, 16);
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Same-origin only: scripts and styles from our own files, images from data: URLs (the QR code), API + WebSocket to us.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function webRoutes(gw: Pick<Gateway, "config">) {
  const js = { body: assets.js, etag: `"${hash(assets.js)}"`, type: "text/javascript; charset=utf-8" };
  const css = { body: assets.css, etag: `"${hash(assets.css)}"`, type: "text/css; charset=utf-8" };
  const html = shell
    .replaceAll("%NAME%", escapeHtml(gw.config.name))
    .replaceAll("%DEMO%", gw.config.demoMode ? "true" : "false")
    .replaceAll("%JS_V%", js.etag.slice(1, -1))
    .replaceAll("%CSS_V%", css.etag.slice(1, -1));
  const page = () =>
    new Response(html, {
      headers: {
        ...COMMON,
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy": CSP,
        "x-frame-options": "DENY",
      },
    });
  const asset = (a: typeof js) => (request: Request) =>
    request.headers.get("if-none-match") === a.etag
      ? new Response(null, { status: 304, headers: { etag: a.etag } })
      : new Response(a.body, {
          headers: { ...COMMON, "content-type": a.type, etag: a.etag, "cache-control": "no-cache" },
        });
  const serveJs = asset(js);
  const serveCss = asset(css);

  return new Elysia({ name: "oc-web" })
    .get("/", page, { detail: { summary: "Web wallet page (HTML)" } })
    .get("/checkout/:id", page, { detail: { summary: "Hosted checkout page (HTML, SPEC §9.6)" } })
    .get("/assets/app.js", ({ request }) => serveJs(request), { detail: { summary: "Web wallet script" } })
    .get("/assets/app.css", ({ request }) => serveCss(request), { detail: { summary: "Web wallet stylesheet" } });
}
