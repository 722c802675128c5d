// Issue 16: the operator's API under /admin. Authentication and the route's scope are checked before the body is
// even validated (a caller without the scope learns nothing about the route's schema).
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { apiKeyFromAuthorization, requireScope } from "../admin/auth";
import type { AdminCtx, AdminRoute } from "../admin/route";
import { USER_ROUTES } from "../admin/routes-users";
import { ORDER_ROUTES } from "../admin/routes-orders";
import { PEER_ROUTES } from "../admin/routes-peers";
import { EVENT_ROUTES } from "../admin/routes-events";

export const ADMIN_ROUTES: readonly AdminRoute[] = [...USER_ROUTES, ...ORDER_ROUTES, ...PEER_ROUTES, ...EVENT_ROUTES];

export function adminRoutes(gw: Gateway) {
  const app = new Elysia({ name: "oc-admin", prefix: "/admin" });
  for (const r of ADMIN_ROUTES) {
    const hooks = {
      body: r.body,
      query: r.query,
      transform: async (ctx: { request: Request; adminKey?: unknown }) => {
        const key = await apiKeyFromAuthorization(gw, ctx.request.headers.get("authorization"));
        requireScope(key, r.scope);
        ctx.adminKey = key;
      },
      detail: {
        summary: r.summary,
        "x-oc-scope": r.scope,
        "x-oc-response": { status: r.status ?? 200, schema: r.response },
        "x-oc-idempotent": !!r.idempotent,
      },
    };
    const handler = async (
      ctx: Omit<AdminCtx, "key"> & { adminKey: AdminCtx["key"]; set: { status?: number | string } },
    ) => {
      const out = await r.handle(gw, {
        key: ctx.adminKey,
        body: ctx.body,
        params: ctx.params,
        query: ctx.query,
        request: ctx.request,
      });
      if (r.status && !(out instanceof Response)) ctx.set.status = r.status;
      return out;
    };
    (app as unknown as { route: (m: string, p: string, h: unknown, o: unknown) => void }).route(
      r.method,
      r.path,
      handler,
      hooks,
    );
  }
  return app;
}
