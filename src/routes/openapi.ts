// OpenAPI 3.1 document generated from the routes actually registered: request schemas are the TypeBox schemas the
// routes validate with (Elysia's `body` for /app routes, the protocol wrapper's schema for protocol routes).
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import pkg from "../../package.json" with { type: "json" };
import { ErrorResponse } from "../protocol/schemas";
import { ERRORS, errorBody, statusOf, type ErrorCode } from "../protocol/errors";
import { docOf, type RouteDoc } from "../http/route-docs";
import { exampleOf } from "../http/schema-example";
import { renderReference, REFERENCE_CSS } from "../http/reference-page";
import { renderSigningGuide } from "../http/signing-guide";

type RouteInfo = {
  method: string;
  path: string;
  hooks?: { body?: unknown; query?: unknown; detail?: Record<string, unknown> };
};

const OC_HEADERS = ["X-OC-ID", "X-OC-Timestamp", "X-OC-Nonce", "X-OC-Signature"].map((name) => ({
  name,
  in: "header",
  required: true,
  schema: { type: "string" },
  description: "Request authentication (SPEC §4)",
}));

/** TypeBox schemas are JSON Schema; a JSON round trip drops TypeBox's symbol-keyed metadata. */
const plain = (s: unknown) => JSON.parse(JSON.stringify(s));

export function buildOpenApi(gw: Pick<Gateway, "config">, routes: RouteInfo[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.method === "WS") {
      (paths[r.path] ??= {}).get = {
        summary:
          "WebSocket: live payment requests and updates (SPEC §10.3); upgrade with Authorization: Bearer or send " +
          "{type:auth}",
        responses: { "101": { description: "Switching protocols" } },
      };
      continue;
    }
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const detail = r.hooks?.detail ?? {};
    const protocol = detail["x-oc-auth"] === "request-signature";
    const params: unknown[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const query = r.hooks?.query as { properties?: Record<string, unknown> } | undefined;
    for (const [name, schema] of Object.entries(query?.properties ?? {}))
      params.push({ name, in: "query", required: false, schema: plain(schema) });
    if (protocol) params.push(...OC_HEADERS);
    const body = protocol ? detail["x-oc-body"] : r.hooks?.body;
    const doc = docOf(detail);
    const tag = r.path.startsWith(gw.config.basePath) ? "protocol" : r.path.startsWith("/app/") ? "app" : "web";
    const op: Record<string, unknown> = {
      summary: detail.summary ?? `${r.method} ${path}`,
      ...(detail.description ? { description: detail.description } : {}),
      ...(doc?.description
        ? { description: doc.description + (doc.demoOnly ? "\n\nDemo mode only: not served otherwise." : "") }
        : {}),
      tags: [tag],
      parameters: params,
      responses: {
        "200": { description: "Success" },
        default: {
          description: "Error (SPEC §15)",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    };
    if (detail["x-oc-response"])
      (op.responses as Record<string, unknown>)["200"] = {
        description: "Success",
        content: { "application/json": { schema: plain(detail["x-oc-response"]) } },
      };
    if (doc && (tag === "protocol" || tag === "app")) documentResponses(op, doc, tag);
    if (body) op.requestBody = { required: true, content: { "application/json": { schema: plain(body) } } };
    if (r.path.startsWith("/app/")) op.security = [{ bearer: [] }];
    if (r.path.startsWith("/admin/")) adminOperation(op, detail);
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Opencharge payment gateway",
      version: pkg.version,
      description: "Protocol endpoints (SPEC §9) and the wallet app API (§10).",
    },
    servers: [{ url: gw.config.publicUrl }],
    paths,
    components: {
      schemas: { Error: plain(ErrorResponse) },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "App token (SPEC §10.1)" },
        adminKey: {
          type: "http",
          scheme: "bearer",
          description: "Operator API key from `oc apikeys create` (issue 16); each route needs its x-oc-scope",
        },
      },
    },
  };
}

/** What any route of its kind may answer besides its own errors (authentication, limits, body rules). */
const COMMON_ERRORS: Record<"protocol" | "app", ErrorCode[]> = {
  protocol: [
    "INVALID_SIGNATURE",
    "TIMESTAMP_EXPIRED",
    "NONCE_REUSED",
    "UNKNOWN_OCID",
    "METADATA_UNAVAILABLE",
    "INVALID_REQUEST",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
  ],
  app: ["INVALID_TOKEN", "INVALID_REQUEST", "RATE_LIMITED"],
};

/** Issue 19: the 200 schema and example, and one response per error status listing its codes and their meaning. */
function documentResponses(op: Record<string, unknown>, doc: RouteDoc, tag: "protocol" | "app"): void {
  const responses: Record<string, unknown> = {};
  const example = doc.example ?? (doc.response ? exampleOf(doc.response) : undefined);
  responses["200"] = doc.contentType
    ? { description: "Success", content: { [doc.contentType]: { schema: { type: "string" } } } }
    : doc.response
      ? {
          description: doc.summary,
          content: {
            "application/json": { schema: plain(doc.response), ...(example !== undefined ? { example } : {}) },
          },
        }
      : { description: "Success" };
  const codes = [...new Set([...(doc.errors ?? []), ...COMMON_ERRORS[tag]])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(statusOf(c), [...(byStatus.get(statusOf(c)) ?? []), c]);
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0]))
    responses[String(status)] = {
      description: list.map((c) => `${c}: ${ERRORS[c][1]}`).join("; "),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" }, example: errorBody(list[0]!) } },
    };
  op.responses = responses;
  op["x-oc-errors"] = codes;
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
    (op.parameters as unknown[]).push({
      name: "Idempotency-Key",
      in: "header",
      required: false,
      schema: { type: "string", maxLength: 128 },
      description: "Same key + same body → the stored answer; other body → 422; in flight → 409",
    });
}

/** No script at all on the reference pages; styles from our own stylesheet only. */
const DOCS_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors " +
  "'none'";
const html = (body: string) =>
  new Response(body, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": DOCS_CSP,
      "x-content-type-options": "nosniff",
    },
  });

/** Served under the mount; the document is computed on first use from the finished app's route table. */
export function openApiRoutes(gw: Pick<Gateway, "config">, routes: () => RouteInfo[]) {
  let doc: string | null = null;
  let page: string | null = null;
  let guide: string | null = null;
  return new Elysia({ name: "oc-openapi" })
    .get(
      `${gw.config.basePath}/openapi.json`,
      () => {
        doc ??= JSON.stringify(buildOpenApi(gw, routes()));
        return new Response(doc, { headers: { "content-type": "application/json; charset=utf-8" } });
      },
      { detail: { summary: "This API as an OpenAPI 3.1 document (generated from the routes)" } },
    )
    .get(
      `${gw.config.basePath}/docs`,
      () => {
        page ??= renderReference(JSON.parse((doc ??= JSON.stringify(buildOpenApi(gw, routes())))), gw.config.basePath);
        return html(page);
      },
      { detail: { summary: "API reference (HTML, works offline)" } },
    )
    .get(
      `${gw.config.basePath}/docs/signing`,
      () => html((guide ??= renderSigningGuide(gw.config.basePath, gw.config.name))),
      {
        detail: {
          summary: "How to sign requests, orders and proofs (HTML), with worked examples from the test vectors",
        },
      },
    )
    .get(
      `${gw.config.basePath}/docs/reference.css`,
      () =>
        new Response(REFERENCE_CSS, {
          headers: { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" },
        }),
      { detail: { summary: "Stylesheet of the reference pages" } },
    );
}
