// Operations endpoints, outside the protocol mount: liveness, readiness, Prometheus metrics.
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway";
import { routeDoc } from "../http/route-docs";
import { readiness } from "../ops/readiness";
import { renderMetrics } from "../ops/metrics";

export type OpsState = { schedulerAlive: () => boolean };

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });

const digest = (s: string) => createHash("sha256").update(s).digest();

/** `metrics.token` set: only `Authorization: Bearer <token>` (compared in constant time) may scrape. */
function metricsAllowed(gw: Pick<Gateway, "config">, authorization: string | null): boolean {
  const token = gw.config.metrics.token;
  if (!token) return true;
  const m = /^Bearer (.+)$/.exec(authorization ?? "");
  return !!m && timingSafeEqual(digest(m[1]!), digest(token));
}

export function metricsRoute(gw: Pick<Gateway, "config" | "hub" | "store" | "verifier">) {
  return new Elysia({ name: "oc-metrics" }).get(
    "/metrics",
    async ({ request }) => {
      if (!metricsAllowed(gw, request.headers.get("authorization")))
        return json(401, {
          error: { code: "INVALID_TOKEN", message: "GET /metrics needs Authorization: Bearer <metrics.token>" },
        });
      const body = await renderMetrics(gw, { verifyQueueDepth: () => gw.verifier.queueDepth() });
      return new Response(body, {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
      });
    },
    {
      detail: routeDoc({
        summary: "Prometheus metrics (text format 0.0.4)",
        contentType: "text/plain",
        errors: ["INVALID_TOKEN"],
      }),
    },
  );
}

const Readyz = t.Object({
  ready: t.Boolean(),
  checks: t.Record(t.String(), t.String()),
  notReady: t.Array(t.String()),
});

export function opsRoutes(gw: Pick<Gateway, "config" | "hub" | "key" | "store" | "verifier">, state: OpsState) {
  const app = new Elysia({ name: "oc-ops" })
    .get("/healthz", () => json(200, { status: "ok" }), {
      detail: routeDoc({
        summary: "Liveness: the process is up",
        response: t.Object({ status: t.Literal("ok") }),
        example: { status: "ok" },
      }),
    })
    .get(
      "/readyz",
      async () => {
        const r = await readiness(gw, state.schedulerAlive);
        return json(r.ready ? 200 : 503, r);
      },
      {
        detail: routeDoc({
          summary: "Readiness: database writable, scheduler running, key loaded (503 names what is not ready)",
          response: Readyz,
          example: { ready: true, checks: { database: "ok", scheduler: "ok", key: "ok" }, notReady: [] },
        }),
      },
    );
  // With a separate metrics listener, /metrics stays off the public one.
  return gw.config.metrics.port === undefined ? app.use(metricsRoute(gw)) : app;
}
