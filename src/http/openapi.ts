// OpenAPI 3.1 document generated from the routes actually registered: request schemas are the TypeBox schemas the
// routes validate with (Elysia's `body` for /app routes, the protocol wrapper's schema for protocol routes).
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import pkg from "../../package.json" with { type: "json" };
import { ErrorResponse } from "../protocol/schemas";

type RouteInfo = { method: string; path: string; hooks?: { body?: unknown; query?: unknown; detail?: Record<string, unknown> } };

const OC_HEADERS = ["X-OC-ID", "X-OC-Timestamp", "X-OC-Nonce", "X-OC-Signature"].map((name) => ({
  name,
  in: "header",
  required: true,
  schema: { type: "string" },
  description: "Request authentication (SPEC §4)",
}));

/** TypeBox schemas are JSON Schema; a JSON round trip drops TypeBox's symbol-keyed metadata. */
const plain = (s: unknown) => JSON.parse(JSON.stringify(s));

export function buildOpenApi(gw: Gateway, routes: RouteInfo[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.method === "WS") {
      (paths[r.path] ??= {}).get = {
        summary: "WebSocket: live payment requests and updates (SPEC §10.3); upgrade with Authorization: Bearer or send {type:auth}",
        responses: { "101": { description: "Switching protocols" } },
      };
      continue;
    }
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const detail = r.hooks?.detail ?? {};
    const protocol = detail["x-oc-auth"] === "request-signature";
    const params: unknown[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const query = r.hooks?.query as { properties?: Record<string, unknown> } | undefined;
    for (const [name, schema] of Object.entries(query?.properties ?? {})) params.push({ name, in: "query", required: false, schema: plain(schema) });
    if (protocol) params.push(...OC_HEADERS);
    const body = protocol ? detail["x-oc-body"] : r.hooks?.body;
    const op: Record<string, unknown> = {
      summary: detail.summary ?? `${r.method} ${path}`,
      ...(detail.description ? { description: detail.description } : {}),
      tags: [r.path.startsWith(gw.config.basePath) ? "protocol" : "app"],
      parameters: params,
      responses: {
        "200": { description: "Success" },
        default: { description: "Error (SPEC §15)", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
    if (detail["x-oc-response"]) (op.responses as Record<string, unknown>)["200"] = { description: "Success", content: { "application/json": { schema: plain(detail["x-oc-response"]) } } };
    if (body) op.requestBody = { required: true, content: { "application/json": { schema: plain(body) } } };
    if (r.path.startsWith("/app/")) op.security = [{ bearer: [] }];
    if (r.path.startsWith("/admin/")) adminOperation(op, detail);
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "Opencharge payment gateway", version: pkg.version, description: "Protocol endpoints (SPEC §9) and the wallet app API (§10)." },
    servers: [{ url: gw.config.publicUrl }],
    paths,
    components: {
      schemas: { Error: plain(ErrorResponse) },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "App token (SPEC §10.1)" },
        adminKey: { type: "http", scheme: "bearer", description: "Operator API key from `oc apikeys create` (issue 16); each route needs its x-oc-scope" },
      },
    },
  };
}

/** Issue 16: /admin operations carry their scope, success schema, 401/403 and the Idempotency-Key header. */
function adminOperation(op: Record<string, unknown>, detail: Record<string, unknown>): void {
  const res = detail["x-oc-response"] as { status: number; schema: unknown } | undefined;
  const error = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  const success =
    res?.schema === "csv"
      ? { description: "CSV (RFC 4180)", content: { "text/csv": { schema: { type: "string" } } } }
      : { description: "Success", content: { "application/json": { schema: plain(res?.schema ?? {}) } } };
  op.tags = ["admin"];
  op.security = [{ adminKey: [] }];
  op["x-oc-scope"] = detail["x-oc-scope"];
  op.description = `Requires scope \`${String(detail["x-oc-scope"])}\`.`;
  op.responses = {
    [String(res?.status ?? 200)]: success,
    "401": { description: "Unknown or revoked API key", ...error },
    "403": { description: "The key lacks this route's scope", ...error },
    default: { description: "Error (SPEC §15)", ...error },
  };
  if (detail["x-oc-idempotent"])
    (op.parameters as unknown[]).push({ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 128 }, description: "Same key + same body → the stored answer; other body → 422; in flight → 409" });
}

const REFERENCE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Opencharge gateway API</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
h2{margin-top:2rem}code{background:#f2f2f2;padding:.1rem .3rem}details{margin:.4rem 0}pre{background:#f7f7f7;padding:.6rem;overflow:auto}</style></head>
<body><h1>Opencharge gateway API</h1><p>Generated from the running gateway: <a href="openapi.json">openapi.json</a>.</p><main id="ops">Loading…</main>
<script>fetch("openapi.json").then(r=>r.json()).then(doc=>{const m=document.getElementById("ops");m.textContent="";
for(const [p,ops] of Object.entries(doc.paths))for(const [verb,op] of Object.entries(ops)){const d=document.createElement("details");
const s=document.createElement("summary");s.innerHTML="<code></code> ";s.firstChild.textContent=verb.toUpperCase()+" "+p;s.append(op.summary||"");d.append(s);
const pre=document.createElement("pre");pre.textContent=JSON.stringify({parameters:op.parameters,requestBody:op.requestBody},null,2);d.append(pre);m.append(d);}});</script></body></html>`;

/** Served under the mount; the document is computed on first use from the finished app's route table. */
export function openApiRoutes(gw: Gateway, routes: () => RouteInfo[]) {
  let doc: string | null = null;
  return new Elysia({ name: "oc-openapi" })
    .get(`${gw.config.basePath}/openapi.json`, () => {
      doc ??= JSON.stringify(buildOpenApi(gw, routes()));
      return new Response(doc, { headers: { "content-type": "application/json; charset=utf-8" } });
    })
    .get(`${gw.config.basePath}/docs`, () => new Response(REFERENCE_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }));
}
