// What the API reference says about a route, kept on the route itself (Elysia's `detail`) so the two cannot drift:
// a summary, what it is for, the TypeBox schema of its 200 answer, an example and the error codes it can answer.
import type { TSchema } from "@sinclair/typebox";
import type { ErrorCode } from "../protocol/errors";

export type RouteDoc = {
  summary: string;
  description?: string;
  response?: TSchema;
  /** A 200 body as a client sees it (shown in the reference). */
  example?: unknown;
  /** Beyond the ones every route of its kind can answer (auth, rate limit…; see openapi.ts). */
  errors?: ErrorCode[];
  /** Listed in the reference only when the gateway runs in demo mode. */
  demoOnly?: boolean;
  /** 200 answers something other than JSON. */
  contentType?: string;
};

export const routeDoc = (d: RouteDoc) => ({ summary: d.summary, "x-oc-doc": d });

export function docOf(detail: Record<string, unknown> | undefined): RouteDoc | undefined {
  return detail?.["x-oc-doc"] as RouteDoc | undefined;
}
