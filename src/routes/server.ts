import { kycRoutes } from "./kyc";
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { pointerToPath, schemaMessage, type SchemaViolation } from "../protocol/validate";
import { durableAnswers } from "../http/durable-answer";
import { errorResponse, jsonResponse } from "../http/responses";
import { wireTarget } from "../http/raw-body";
import { capabilitiesRoute } from "./capabilities";
import { openApiRoutes } from "./openapi";
import { routeDoc } from "../http/route-docs";
import { MetadataDocument } from "../protocol/schemas";
import { UserMetadataDocument } from "../app/schemas";
import { orderRoutes } from "./orders";
import { transferRoutes } from "./transfers";
import { appRoutes } from "./app";
import { signInRoutes } from "./sign-in";
import { checkoutApproveRoutes } from "./checkout-approve";
import { webRoutes } from "./web";
import { adminRoutes } from "./admin";
import { OperatorError } from "../flows/accounts";
import { opsRoutes, type OpsState } from "./ops";
import { userMetadataDocument } from "../flows/end-user-ocid";
import { websocketRoute, WS_BACKPRESSURE_LIMIT, WS_IDLE_SECONDS, WS_MAX_FRAME } from "./ws";

/** Elysia's schema failure (the /app routes) in the same shape as the protocol wrapper's: rule and limit per field. */
function validationError(error: unknown): ProtocolError {
  const e = error as { type?: string; all?: { path?: string; message?: string; schema?: unknown }[] };
  const where = e.type === "query" ? "query." : e.type === "params" ? "path." : "";
  const violations: SchemaViolation[] = (e.all ?? []).slice(0, 20).map((x) => ({
    field: where + (pointerToPath(x.path ?? "") || "(root)"),
    rule: String(x.message ?? "Invalid value"),
  }));
  return new ProtocolError("INVALID_REQUEST", schemaMessage(violations), {
    reason: "schema",
    fields: [...new Set(violations.map((v) => v.field))],
    errors: violations,
  });
}

/** The one place unexpected faults become §15 JSON: never a stack trace, a 500 only for genuine faults. */
export function errorHandler(gw: Pick<Gateway, "log">) {
  return new Elysia({ name: "oc-errors" }).onError({ as: "global" }, ({ code, error, request }) => {
    if (error instanceof ProtocolError) return errorResponse(error);
    // An operator-rule refusal (a name, a credit spec) reaching HTTP is the caller's input, never a fault.
    if (error instanceof OperatorError) return errorResponse(new ProtocolError("INVALID_REQUEST", error.message));
    switch (code) {
      case "NOT_FOUND":
        return errorResponse(new ProtocolError("NOT_FOUND"));
      case "PARSE":
        return errorResponse(new ProtocolError("INVALID_REQUEST", "Malformed JSON body", { reason: "malformed_json" }));
      case "VALIDATION":
        return errorResponse(validationError(error));
    }
    const status = (error as { status?: number } | undefined)?.status;
    if (status === 413) return errorResponse(new ProtocolError("PAYLOAD_TOO_LARGE"));
    const requestId = crypto.randomUUID();
    gw.log.error("unhandled error", {
      requestId,
      path: new URL(request.url).pathname,
      error: String((error as Error)?.stack ?? error),
    });
    return jsonResponse(
      500,
      { error: { code: "INTERNAL_ERROR", message: "Internal error", details: { requestId } } },
      { "x-request-id": requestId },
    );
  });
}

/** Public metadata (§9.2): unauthenticated, unsigned response, cacheable. */
export function metadataRoute(gw: Pick<Gateway, "config" | "currentMetadata">) {
  const bodies = new Map<unknown, string>();
  const bodyOf = (doc: unknown) => bodies.get(doc) ?? (bodies.set(doc, JSON.stringify(doc)), bodies.get(doc)!);
  return new Elysia({ name: "oc-metadata" }).get(
    `${gw.config.basePath}/metadata.json`,
    () =>
      new Response(bodyOf(gw.currentMetadata()), {
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" },
      }),
    {
      detail: routeDoc({
        summary: "This gateway's signed metadata document (SPEC §2.3, §9.2)",
        description:
          "Unauthenticated and cacheable. Peers take our public key, endpoint and settlement terms from here.",
        response: MetadataDocument,
      }),
    },
  );
}

/** Issue 17: each end-user OCID's published document (what its registry entry points at). Public, like ours. */
export function userMetadataRoute(gw: Pick<Gateway, "config" | "key" | "store">) {
  return new Elysia({ name: "oc-user-metadata" }).get(
    `${gw.config.basePath}/users/:ocid/metadata.json`,
    async ({ params }) => {
      const ocid = /^[1-9][0-9]{0,15}$/.test(params.ocid) ? Number(params.ocid) : 0;
      const user = ocid ? await gw.store.read((tx) => tx.users.byOcid(ocid)) : null;
      if (!user) throw new ProtocolError("NOT_FOUND", "No user holds this OCID here");
      return new Response(JSON.stringify(userMetadataDocument(gw, { ...user, ocid })), {
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=60" },
      });
    },
    {
      detail: routeDoc({
        summary: "The metadata document of one of our users' end-user OCIDs (issue 17)",
        description:
          "Signed with this gateway's key, naming it in `gateway`: a sender sends that person's money to this gateway.",
        response: UserMetadataDocument,
        errors: ["NOT_FOUND"],
      }),
    },
  );
}

/** Declared sizes over the limit are refused before any route runs (§4.3: body size before authentication). */
function bodyLimit(gw: Pick<Gateway, "config" | "signer">) {
  return new Elysia({ name: "oc-body-limit" }).onRequest(({ request }) => {
    const len = request.headers.get("content-length");
    // The framework parses /app bodies, and only a declared length can be capped before it reads them: a chunked
    // /app body (150 KB used to be accepted) must say how long it is. (Protocol routes read and cap raw bytes.)
    if (len === null && request.headers.has("transfer-encoding") && new URL(request.url).pathname.startsWith("/app/"))
      return errorResponse(
        new ProtocolError(
          "INVALID_REQUEST",
          "Send the body with a Content-Length header (chunked bodies are not accepted on /app)",
          { reason: "length_required" },
        ),
      );
    if (len === null || Number(len) <= gw.config.maxBodyBytes) return;
    // §4.5: answers on protocol routes are signed, this early 413 included.
    const target = wireTarget(request.url);
    return errorResponse(
      new ProtocolError("PAYLOAD_TOO_LARGE"),
      target.startsWith(gw.config.basePath + "/") ? gw.signer : undefined,
    );
  });
}

/** §10.1: CORS is off on /app unless `app.corsOrigins` lists the origin; never on protocol routes. */
function appCors(gw: Pick<Gateway, "config">) {
  const allowed = new Set(gw.config.app.corsOrigins);
  const plugin = new Elysia({ name: "oc-app-cors" });
  if (allowed.size === 0) return plugin;
  const headersFor = (origin: string) => ({
    "access-control-allow-origin": origin,
    "access-control-allow-headers": "authorization, content-type",
    "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
    "access-control-max-age": "600",
    vary: "Origin",
  });
  return plugin
    .onRequest(({ request }) => {
      const origin = request.headers.get("origin");
      if (
        request.method === "OPTIONS" &&
        origin &&
        allowed.has(origin) &&
        new URL(request.url).pathname.startsWith("/app/")
      )
        return new Response(null, { status: 204, headers: headersFor(origin) });
    })
    .onAfterHandle({ as: "global" }, ({ request, set }) => {
      const origin = request.headers.get("origin");
      if (origin && allowed.has(origin) && new URL(request.url).pathname.startsWith("/app/"))
        Object.assign(set.headers, headersFor(origin));
    });
}

export function createApp(gw: Gateway, ops: OpsState = { schedulerAlive: () => false }) {
  const app = new Elysia({
    websocket: {
      maxPayloadLength: WS_MAX_FRAME,
      idleTimeout: WS_IDLE_SECONDS,
      backpressureLimit: WS_BACKPRESSURE_LIMIT,
      closeOnBackpressureLimit: true,
    },
  })
    .use(durableAnswers(gw.log))
    .use(errorHandler(gw))
    .use(bodyLimit(gw))
    .use(appCors(gw))
    .use(metadataRoute(gw))
    .use(opsRoutes(gw, ops))
    .use(userMetadataRoute(gw))
    .use(kycRoutes(gw))
    .use(capabilitiesRoute(gw))
    .use(orderRoutes(gw))
    .use(transferRoutes(gw))
    .use(appRoutes(gw))
    .use(adminRoutes(gw))
    .use(signInRoutes(gw))
    .use(checkoutApproveRoutes(gw))
    .use(websocketRoute(gw))
    .use(webRoutes(gw));
  const routes = () => (app as { routes: unknown[] }).routes as never;
  return app.use(openApiRoutes(gw, routes));
}
