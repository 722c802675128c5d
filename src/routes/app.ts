// §10.2 wallet app API: thin routes over the flows; every request carries a bearer token.
import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { userFromAuthorization } from "../app/bearer";
import { enforceRate } from "../http/protocol-route";
import { createPaySession, qrSvg } from "../flows/pay-session";
import { confirmPayment, declinePayment, sessionForUser } from "../flows/answer-payment";
import { history, sessionView } from "../flows/session-view";
import { balancesOf, createUser } from "../flows/accounts";
import { userAccount } from "../store/ledger";
import { orderFromInventory, scanCode } from "../flows/scan";
import { ScanOrderRequest, ScanRequestSchema, ScanResponseSchema } from "../app/scan-schemas";

const SessionParams = t.Object({ id: t.String({ maxLength: 64 }) });
const EmptyBody = t.Optional(t.Object({}, { additionalProperties: true }));

export function appRoutes(gw: Gateway) {
  const app = new Elysia({ name: "oc-app", prefix: "/app" });

  if (gw.config.demoMode)
    app.post(
      "/demo/login",
      ({ body }) => {
        const base = body?.name?.trim() || "demo";
        const name = `${base}-${Math.random().toString(36).slice(2, 8)}`;
        const { user, token } = createUser(gw, name, gw.config.demoBalance);
        return { token, user: { id: user.id, name: user.name } };
      },
      { body: t.Optional(t.Object({ name: t.Optional(t.String({ maxLength: 40 })) })) },
    );

  return app
    .resolve(({ request }) => {
      const user = userFromAuthorization(gw, request.headers.get("authorization"));
      enforceRate(gw, `token:${user.id}`, gw.config.rateLimits.perToken);
      return { user };
    })
    .post(
      "/pay",
      ({ user }) => {
        enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
        return createPaySession(gw, user);
      },
      { body: EmptyBody },
    )
    .get("/me", ({ user }) => ({ user: { id: user.id, name: user.name }, balances: balancesOf(gw, userAccount(user.id)) }))
    .get("/sessions/:id", ({ user, params }) => sessionView(gw, sessionForUser(gw, user, params.id)), { params: SessionParams })
    .get(
      "/sessions/:id/qr.svg",
      async ({ user, params }) => {
        const s = sessionForUser(gw, user, params.id);
        if (s.kind !== "qr") throw new ProtocolError("SESSION_NOT_FOUND");
        return new Response(await qrSvg(gw, s.id, s.expires_at), { headers: { "content-type": "image/svg+xml" } });
      },
      { params: SessionParams },
    )
    .post("/confirm/:id", ({ user, params }) => confirmPayment(gw, user, params.id), { params: SessionParams, body: EmptyBody })
    .post("/decline/:id", ({ user, params }) => declinePayment(gw, user, params.id), { params: SessionParams, body: EmptyBody })
    // Issue 13: pay by scanning a merchant's code. Each scan may call the merchant, so it counts against the
    // per-user pay limit.
    .post(
      "/scan",
      ({ user, body }) => {
        enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
        return scanCode(gw, user, body);
      },
      { body: ScanRequestSchema, detail: { summary: "Scan a merchant's code (order QR, inventory QR, opencharge: URI)", "x-oc-response": ScanResponseSchema } },
    )
    .post(
      "/scan/:id/order",
      ({ user, params, body }) => {
        enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
        return orderFromInventory(gw, user, params.id, body);
      },
      { params: SessionParams, body: ScanOrderRequest, detail: { summary: "Order picked inventory items from the merchant (signed order back)", "x-oc-response": ScanResponseSchema } },
    )
    .get("/history", ({ user, query }) => history(gw, user, query.limit, query.before), {
      query: t.Object({ limit: t.Optional(t.String()), before: t.Optional(t.String()) }),
    });
}
