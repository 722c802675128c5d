// The API reference at {basePath}/docs, rendered on the server from the very OpenAPI document we publish: plain
// HTML and one stylesheet, no script, no font or CDN, so it works offline and inside `bun build --compile`.
// (Scalar's self-hosted bundle was tried: 4.3 MB, ~10 s to first render here, and axe-core found a critical
// button-name and serious contrast violations in its UI that we cannot fix from outside.)
import { WsClientMessage, WsServerMessage } from "../app/schemas";
import { exampleOf } from "./schema-example";

type Schema = Record<string, any>;
type Parameter = { name: string; in: string; required?: boolean; schema?: Schema; description?: string };
type Operation = {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: Schema; example?: unknown }> }
  >;
  security?: unknown[];
  "x-oc-errors"?: string[];
};
type Doc = {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

/** The head's first tags, the same on every reference page. */
export const HEAD_META = `<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`;

export const escapeHtml = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const code = (s: unknown) => `<code>${escapeHtml(s)}</code>`;
/** `backticks` in our descriptions become code; everything else is escaped text. */
const prose = (s: string | undefined) =>
  s
    ? escapeHtml(s)
        .replace(/`([^`]+)`/g, "<code>$1</code>")
        .replace(/\n\n/g, "</p><p>")
    : "";
const slug = (method: string, path: string) =>
  `${method}-${path}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

function typeOf(s: Schema): string {
  if (s.$ref) return String(s.$ref).split("/").pop()!;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) return s.anyOf.map(typeOf).join(" | ");
  if (s.type === "array") return `${s.items ? typeOf(s.items) : "any"}[]`;
  if (s.type === "object" && !s.properties && s.patternProperties) return "map";
  return s.type ?? "any";
}

const RULE_KEYS: [string, (v: unknown) => string][] = [
  ["minLength", (v) => `≥ ${v} chars`],
  ["maxLength", (v) => `≤ ${v} chars`],
  ["minimum", (v) => `≥ ${v}`],
  ["exclusiveMinimum", (v) => `> ${v}`],
  ["maximum", (v) => `≤ ${v}`],
  ["minItems", (v) => `≥ ${v} items`],
  ["maxItems", (v) => `≤ ${v} items`],
  ["pattern", (v) => `matches ${v}`],
];
const rules = (s: Schema) => RULE_KEYS.filter(([k]) => s[k] !== undefined).map(([k, f]) => f(s[k]));

/** A JSON Schema as rows: dotted field path, type, required, rules, description. Depth-bounded. */
function rows(s: Schema, prefix: string, required: boolean, depth: number, out: string[]): void {
  if (depth > 5 || !s) return;
  if (prefix)
    out.push(
      `<tr><td>${code(prefix)}</td><td>${escapeHtml(typeOf(s))}</td><td>${required ? "yes" : "no"}</td>` +
        `<td>${rules(s).map(escapeHtml).join("<br>")}</td><td>${prose(s.description)}</td></tr>`,
    );
  const obj = s.type === "object" ? s : s.type === "array" && s.items?.type === "object" ? s.items : null;
  if (obj?.properties) {
    const base = s.type === "array" ? `${prefix}[]` : prefix;
    for (const [k, v] of Object.entries(obj.properties as Record<string, Schema>))
      rows(v, base ? `${base}.${k}` : k, (obj.required ?? []).includes(k), depth + 1, out);
  }
  if (Array.isArray(s.anyOf))
    for (const alt of s.anyOf)
      if (alt.type === "object")
        rows({ ...alt, description: undefined }, prefix, required, depth + 1, out.length ? out : out);
}

const TABLE_COLUMNS = ["Field", "Type", "Required", "Rules", "Description"];

function schemaTable(s: Schema | undefined, caption: string): string {
  if (!s) return "";
  const out: string[] = [];
  rows(s, "", true, 0, out);
  if (out.length === 0) return `<p>${escapeHtml(caption)}: ${code(typeOf(s))}</p>`;
  return (
    `<div class="scroll" role="region" aria-label="${escapeHtml(caption)}" tabindex="0">` +
    `<table><caption>${escapeHtml(caption)}</caption>` +
    `<thead><tr>${TABLE_COLUMNS.map((c) => `<th scope="col">${c}</th>`).join("")}</tr></thead>` +
    `<tbody>${out.join("")}</tbody></table></div>`
  );
}

const json = (v: unknown) => `<pre><code>${escapeHtml(JSON.stringify(v, null, 2))}</code></pre>`;

function operation(method: string, path: string, op: Operation, base: string): string {
  const id = slug(method, path);
  const params = (op.parameters ?? []).filter((p) => p.in !== "header");
  const headers = (op.parameters ?? []).filter((p) => p.in === "header");
  const body = op.requestBody?.content["application/json"]?.schema;
  const responses = Object.entries(op.responses ?? {});
  const auth = headers.some((h) => h.name === "X-OC-Signature")
    ? `Signed request: ${headers.map((h) => code(h.name)).join(", ")} ` +
      `(see <a href="${base}/docs/signing">How to sign</a>).`
    : op.security
      ? `Bearer token: ${code("Authorization: Bearer <token>")}.`
      : "No authentication.";
  const parts = [
    `<section class="op" id="${id}" aria-labelledby="${id}-h">`,
    `<h3 id="${id}-h"><span class="verb verb-${method}">${method.toUpperCase()}</span> ${code(path)}</h3>`,
    `<p class="summary">${escapeHtml(op.summary ?? "")}</p>`,
    op.description ? `<p>${prose(op.description)}</p>` : "",
    `<p class="auth">${auth}</p>`,
  ];
  const verbPath = `${method.toUpperCase()} ${path}`;
  const parameter = (p: Parameter) => {
    const where = `${escapeHtml(p.in)}${p.required ? ", required" : ""}`;
    const what = p.schema?.description ? ` — ${prose(p.schema.description)}` : "";
    return `<li>${code(p.name)} (${where})${what}</li>`;
  };
  if (params.length) parts.push(`<h4>Parameters</h4><ul>${params.map(parameter).join("")}</ul>`);
  if (body) {
    const fields = schemaTable(body, `Request body of ${verbPath}`);
    parts.push(`<h4>Request body</h4><details><summary>Fields and rules</summary>${fields}</details>`);
    parts.push(`<details><summary>Example request body</summary>${json(exampleOf(body))}</details>`);
  }
  parts.push(`<h4>Responses</h4><dl class="responses">`);
  for (const [status, r] of responses) {
    const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
    parts.push(
      `<dt><span class="status s${status[0]}">${escapeHtml(status)}</span></dt><dd><p>${prose(r.description)}</p>`,
    );
    if (status.startsWith("2") && media?.schema && type === "application/json") {
      const fields = schemaTable(media.schema.$ref ? undefined : media.schema, `${status} response of ${verbPath}`);
      parts.push(`<details><summary>Response fields</summary>${fields}</details>`);
      if (media.example !== undefined)
        parts.push(
          `<details><summary>Example ${escapeHtml(status)} response</summary>${json(media.example)}</details>`,
        );
    } else if (type && type !== "application/json") parts.push(`<p>Content type ${code(type)}.</p>`);
    else if (media?.example !== undefined)
      parts.push(`<details><summary>Example error</summary>${json(media.example)}</details>`);
    parts.push(`</dd>`);
  }
  parts.push(`</dl></section>`);
  return parts.join("\n");
}

const GROUPS: [string, string][] = [
  ["protocol", "Protocol endpoints (SPEC §9): for merchants, merchant gateways and peers"],
  ["app", "Wallet app API (SPEC §10): for the wallet page and apps, with a bearer token"],
  ["admin", "Operator API: with an operator API key"],
];

function websocket(): string {
  const variants = (u: Schema) => (u.anyOf ?? [u]) as Schema[];
  const list = (u: Schema, who: string) =>
    variants(u)
      .map((v) => {
        const t = v.properties?.type;
        const name = t?.const ?? (t?.anyOf ?? []).map((x: Schema) => x.const).join(" / ");
        const example = `<details><summary>Example</summary>${json(exampleOf(v))}</details>`;
        return `<h4>${code(name)}</h4>${schemaTable(v, `${who} message ${name}`)}${example}`;
      })
      .join("\n");
  const plain = (s: unknown) => JSON.parse(JSON.stringify(s)) as Schema;
  return (
    `<section class="op" id="websocket" aria-labelledby="websocket-h">` +
    `<h3 id="websocket-h"><span class="verb verb-get">WS</span> ${code("/app/ws")}</h3>` +
    `<p class="summary">Live payment requests and updates (SPEC §10.3).</p>` +
    `<p>Authenticate with ${code("Authorization: Bearer")} on the upgrade, ` +
    `or send ${code('{"type":"auth","token":"…"}')} within 10 s. ` +
    `Every (re)connect replays what still awaits the user; ping every 25 s.</p>` +
    `<h4>Client → server</h4>${list(plain(WsClientMessage), "Client")}` +
    `<h4>Server → client</h4>${list(plain(WsServerMessage), "Server")}</section>`
  );
}

export function renderReference(doc: Doc, base: string): string {
  const ops: Record<string, string[]> = {};
  const toc: Record<string, string[]> = {};
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? "web";
      // The reference pages themselves and the WebSocket (its own section below) are not operations to list.
      if (!GROUPS.some(([g]) => g === tag) || path === "/app/ws" || /\/docs(\/|$)/.test(path)) continue;
      (ops[tag] ??= []).push(operation(method, path, op, base));
      const link = `<a href="#${slug(method, path)}">${code(`${method.toUpperCase()} ${path}`)}</a>`;
      (toc[tag] ??= []).push(`<li>${link} ${escapeHtml(op.summary ?? "")}</li>`);
    }
  const errorSchema = doc.components?.schemas?.Error;
  const body = GROUPS.filter(([g]) => ops[g]?.length || g === "app")
    .map(([g, title]) => {
      const heading = `<h2 id="g-${g}">${escapeHtml(title)}</h2>`;
      const content = (ops[g] ?? []).join("\n") + (g === "app" ? websocket() : "");
      return `<section aria-labelledby="g-${g}">${heading}${content}</section>`;
    })
    .join("\n");
  const nav = GROUPS.filter(([g]) => toc[g]?.length)
    .map(([g, title]) => {
      const ws = g === "app" ? `<li><a href="#websocket">${code("WS /app/ws")}</a> live updates</li>` : "";
      return `<h2 class="toc-h">${escapeHtml(title.split(":")[0]!)}</h2><ul>${toc[g]!.join("")}${ws}</ul>`;
    })
    .join("");
  const title = escapeHtml(doc.info.title);
  return [
    `<!doctype html><html lang="en"><head>${HEAD_META}`,
    `<title>${title} — API reference</title><link rel="stylesheet" href="${base}/docs/reference.css"></head><body>`,
    `<a class="skip" href="#content">Skip to content</a>`,
    `<header><p class="brand">${title} <span>v${escapeHtml(doc.info.version)}</span></p>`,
    `<nav aria-label="Guides"><a href="${base}/docs" aria-current="page">API reference</a> · ` +
      `<a href="${base}/docs/signing">How to sign</a> · <a href="${base}/openapi.json">openapi.json</a></nav></header>`,
    `<div class="layout"><nav class="toc" aria-label="Routes">${nav}</nav>`,
    `<main id="content" tabindex="-1"><h1>API reference</h1><p>${prose(doc.info.description)}</p>`,
    `<p>Every error is the §15 JSON ${code('{"error":{"code","message","details"}}')}: ` +
      `${code("details.reason")} is machine-readable and the message names the rule broken.</p>`,
    schemaTable(errorSchema, "Error body"),
    `${body}</main></div></body></html>`,
  ].join("\n");
}

export const REFERENCE_CSS = `
:root{--fg:#1b1b1f;--muted:#4a4a55;--line:#d5d7de;--bg:#f4f5f8;--accent:#083f99;
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
*{box-sizing:border-box}body{margin:0}a{color:var(--accent)}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:var(--bg);padding:.05rem .3rem;
border-radius:4px;overflow-wrap:anywhere}
pre{background:#1b1b1f;color:#f4f5f8;padding:.75rem;border-radius:8px;overflow:auto}
pre code{background:none;color:inherit;padding:0}
.skip{position:absolute;left:.5rem;top:-3rem;background:#fff;padding:.5rem}.skip:focus{top:.5rem}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between;
padding:.75rem 1rem;background:var(--accent);color:#fff}
header a{color:#fff}.brand{margin:0;font-weight:700}.brand span{font-weight:400}
.layout{display:flex;max-width:84rem;margin:0 auto}
.toc{flex:0 0 22rem;padding:1rem;border-right:1px solid var(--line);font-size:.875rem;position:sticky;top:0;
max-height:100vh;overflow:auto}
.toc ul{list-style:none;padding:0;margin:0 0 1rem}.toc li{margin:.3rem 0}.toc-h{font-size:1rem;margin:.5rem 0}
main{flex:1;min-width:0;padding:1rem 1.5rem}h1{margin-top:.5rem}
h2{margin-top:2.5rem;border-bottom:2px solid var(--line);padding-bottom:.25rem}
.op{border:1px solid var(--line);border-radius:10px;padding:1rem;margin:1.25rem 0}.op h3{margin:0;font-size:1.1rem}
.summary{font-weight:600}.auth{color:var(--muted)}
.verb{display:inline-block;min-width:3.5rem;text-align:center;border-radius:6px;padding:.05rem .4rem;margin-right:.4rem;
color:#fff;font-size:.85rem;background:#444}
.verb-get{background:#146c2e}.verb-post{background:#083f99}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.875rem;margin:.5rem 0}
caption{text-align:left;font-weight:600;color:var(--muted);padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:var(--bg)}
.responses dt{margin-top:.75rem}.responses dd{margin:0 0 0 1rem}
.status{display:inline-block;font-weight:700;border-radius:6px;padding:0 .4rem;background:var(--bg)}.s2{color:#146c2e}
.s4{color:#b3261e}.s5{color:#7a4a00}
details{margin:.4rem 0}summary{cursor:pointer;color:var(--accent);font-weight:600}
@media (max-width:50rem){.layout{display:block}
.toc{position:static;max-height:none;border-right:none;border-bottom:1px solid var(--line)}main{padding:1rem}}
`;
