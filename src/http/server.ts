import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { errorResponse, jsonResponse } from "./responses";

/** The one place unexpected faults become §15 JSON: never a stack trace, a 500 only for genuine faults. */
export function errorHandler(gw: Gateway) {
  return new Elysia({ name: "oc-errors" }).onError({ as: "global" }, ({ code, error, request }) => {
    if (error instanceof ProtocolError) return errorResponse(error);
    switch (code) {
      case "NOT_FOUND":
        return errorResponse(new ProtocolError("NOT_FOUND"));
      case "PARSE":
        return errorResponse(new ProtocolError("INVALID_REQUEST", "Malformed JSON body"));
      case "VALIDATION":
        return errorResponse(new ProtocolError("INVALID_REQUEST"));
    }
    const status = (error as { status?: number } | undefined)?.status;
    if (status === 413) return errorResponse(new ProtocolError("PAYLOAD_TOO_LARGE"));
    const requestId = crypto.randomUUID();
    gw.log.error("unhandled error", { requestId, path: new URL(request.url).pathname, error: String((error as Error)?.stack ?? error) });
    return jsonResponse(500, { error: { code: "INTERNAL_ERROR", message: "Internal error", details: { requestId } } }, { "x-request-id": requestId });
  });
}

/** Public metadata (§9.2): unauthenticated, unsigned response, cacheable. */
export function metadataRoute(gw: Gateway) {
  const body = JSON.stringify(gw.metadata);
  return new Elysia({ name: "oc-metadata" }).get(
    `${gw.config.basePath}/metadata.json`,
    () => new Response(body, { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" } }),
  );
}

export function createApp(gw: Gateway) {
  return new Elysia().use(errorHandler(gw)).use(metadataRoute(gw));
}
