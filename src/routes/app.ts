// §10.2 wallet app API: thin routes over the flows; every request carries a bearer token.
import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { authFromAuthorization } from "../app/bearer";
import { clientIp, enforceRate } from "./protocol-route";
import { createPaySession, qrPngOf, qrSvg } from "../flows/pay-session";
import { confirmPayment, declinePayment, sessionOfUser } from "../flows/answer-payment";
import { history, sessionView } from "../flows/session-view";
import { balancesOf, createUser } from "../flows/accounts";
import { userAccount } from "../store/ledger";
import { orderFromInventory, scanCode } from "../flows/scan";
import { ScanAnyResponseSchema, ScanOrderRequest, ScanRequestSchema, ScanResponseSchema } from "../app/scan-schemas";
import { routeDoc } from "../http/route-docs";
import { answerBeforeDurable } from "../http/durable-answer";
import * as S from "../app/schemas";
import { sendMoney, TransferRequest } from "../flows/send-money";
import { receiveQr, receiveQrPng, receiveQrSvg } from "../flows/receive-qr";
import { startTopup, TopupRequest, topupOf } from "../flows/topup";
import { KycStartRequest, kycView, startKyc } from "../flows/kyc";

const SessionParams = t.Object({ id: t.String({ maxLength: 64 }) });
/** What a user name may hold (createUser's rule), leaving room for the random suffix. */
const DEMO_NAME = /^[\p{L}\p{N} ._@-]{1,40}$/u;
const EmptyBody = t.Optional(t.Object({}, { additionalProperties: true }));

async function openCodes(gw: Pick<Gateway, "clock" | "store">, userId: string) {
  const open = await gw.store.read((tx) => tx.sessions.open(userId, gw.clock()));
  return open.map((s) => ({ sessionId: s.id, createdAt: s.createdAt, expiresAt: s.expiresAt }));
}

export function appRoutes(gw: Gateway) {
  const app = new Elysia({ name: "oc-app", prefix: "/app" });

  if (gw.config.demoMode)
    app.post(
      "/demo/login",
      async (ctx) => {
        // Demo login mints funded users for anyone who can reach us: limited per client address.
        enforceRate(gw, `demo:${clientIp(ctx, gw)}`, gw.config.rateLimits.demoLoginPerIp);
        const base = ctx.body?.name?.trim() || "demo";
        if (!DEMO_NAME.test(base))
          throw new ProtocolError(
            "INVALID_REQUEST",
            'name: up to 40 letters, digits, spaces or . _ @ - (e.g. "alice")',
            { reason: "schema", fields: ["name"] },
          );
        const name = `${base}-${Math.random().toString(36).slice(2, 8)}`;
        const { user, token } = await createUser(gw, name, gw.config.demoBalance);
        return { token, user: { id: user.id, name: user.name } };
      },
      {
        body: t.Optional(t.Object({ name: t.Optional(t.String({ maxLength: 40 })) })),
        detail: routeDoc({
          summary: "Demo mode: create a funded test user and sign in",
          description:
            "Only in demo mode (`bun run start`). Returns a bearer token for a new user with the demo balance.",
          response: S.DemoLoginResponse,
          demoOnly: true,
          errors: ["INVALID_REQUEST"],
        }),
      },
    );

  // Before sign-in (issue 19): the shopper sees what they are asked to pay. Hosted checkouts only (QR sessions
  // belong to their user), and only while nobody answered: the 128-bit id in the URL is the capability.
  app.get(
    "/checkout/:id",
    (ctx) => {
      enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
      return sessionView(gw, async (tx) => {
        const s = await tx.sessions.get(ctx.params.id);
        if (!s || s.kind !== "checkout" || s.userId !== null)
          throw new ProtocolError(
            "SESSION_NOT_FOUND",
            "No open hosted checkout with this id (it may have been answered: sign in to see it)",
            { reason: "not_open" },
          );
        return s;
      });
    },
    {
      params: SessionParams,
      detail: routeDoc({
        summary: "A hosted checkout's order, before sign-in (no token needed)",
        description:
          "What the hosted page shows the shopper before they sign in. Only unanswered checkouts; rate-limited per IP.",
        response: S.SessionViewResponse,
        errors: ["SESSION_NOT_FOUND", "RATE_LIMITED"],
      }),
    },
  );

  return (
    app
      .resolve(async ({ request }) => {
        const { user, grant } = await authFromAuthorization(
          gw,
          request.headers.get("authorization"),
          request.headers.get("origin"),
        );
        if (grant.kind === "enrol")
          throw new ProtocolError("UNAUTHORIZED", "An enrolment link can only register a passkey", {
            reason: "enrol_only",
          });
        enforceRate(gw, `token:${user.id}`, gw.config.rateLimits.perToken);
        return { user };
      })
      .post(
        "/pay",
        ({ user, request }) => {
          enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
          // The code is shown before its fsync completes: whatever a merchant does with it waits for that fsync.
          answerBeforeDurable(request);
          return createPaySession(gw, user);
        },
        {
          body: EmptyBody,
          detail: routeDoc({
            summary: "Open a pay code (QR) a merchant can submit one order to",
            description:
              "Creates a single-use session valid for `sessionTtl` seconds. Show `qrCode` (or encode `qrText`) to " +
              "the merchant; " +
              "its POS posts the signed order to `qrPayload.order` (§9.4) and the order arrives on the WebSocket as " +
              "`payment_request`. " +
              "At most `maxPendingSessions` codes may be open at once (429 RATE_LIMITED): cancel one with " +
              "/app/decline/{id} or /app/codes/cancel.",
            response: S.PayResponse,
            errors: ["RATE_LIMITED"],
          }),
        },
      )
      .get(
        "/me",
        async ({ user }) => ({
          user: { id: user.id, name: user.name, ...(user.ocid ? { ocid: user.ocid } : {}) },
          balances: await gw.store.read((tx) => balancesOf(gw, tx, userAccount(user.id))),
        }),
        {
          detail: routeDoc({ summary: "The signed-in user and their balances", response: S.MeResponse }),
        },
      )
      .get("/codes", async ({ user }) => ({ codes: await openCodes(gw, user.id) }), {
        detail: routeDoc({
          summary: "Open pay codes: QR sessions a merchant could still submit an order to",
          description:
            "Newest first. Cancel one with POST /app/decline/{sessionId}; all of them with POST /app/codes/cancel.",
          response: S.OpenCodesResponse,
        }),
      })
      .post(
        "/codes/cancel",
        async ({ user }) => ({ cancelled: await gw.store.transaction((tx) => tx.sessions.cancelOpen(user.id)) }),
        {
          body: EmptyBody,
          detail: routeDoc({
            summary: "Cancel every open pay code (the web page does this on sign-out)",
            description:
              'A merchant submitting to a cancelled code gets 410 SESSION_USED with details.reason "cancelled".',
            response: S.CancelCodesResponse,
          }),
        },
      )
      .get("/sessions/:id", ({ user, params }) => sessionView(gw, (tx) => sessionOfUser(tx, user, params.id)), {
        params: SessionParams,
        detail: routeDoc({
          summary: "A pay code or hosted checkout, with its order and merchant once there is one",
          description:
            "A hosted checkout is readable by any signed-in user until one of them answers it; `merchant` is the " +
            "name the merchant declares, " +
            "its OCID and the host of its registered endpoint.",
          response: S.SessionViewResponse,
          errors: ["SESSION_NOT_FOUND", "UNAUTHORIZED", "INVALID_REQUEST"],
        }),
      })
      .get(
        "/sessions/:id/qr.svg",
        async ({ user, params }) => {
          const s = await gw.store.read((tx) => sessionOfUser(tx, user, params.id));
          if (s.kind !== "qr") throw new ProtocolError("SESSION_NOT_FOUND");
          return new Response(await qrSvg(gw, s.id, s.expiresAt), { headers: { "content-type": "image/svg+xml" } });
        },
        {
          params: SessionParams,
          detail: routeDoc({
            summary: "The pay code's QR as SVG",
            contentType: "image/svg+xml",
            errors: ["SESSION_NOT_FOUND", "UNAUTHORIZED"],
          }),
        },
      )
      .get(
        "/sessions/:id/qr.png",
        async ({ user, params }) => {
          const s = await gw.store.read((tx) => sessionOfUser(tx, user, params.id));
          if (s.kind !== "qr") throw new ProtocolError("SESSION_NOT_FOUND");
          return new Response(new Uint8Array(qrPngOf(gw, s.id, s.expiresAt)), {
            headers: { "content-type": "image/png" },
          });
        },
        {
          params: SessionParams,
          detail: routeDoc({
            summary: "The pay code's QR as PNG (the same image as qrCode)",
            contentType: "image/png",
            errors: ["SESSION_NOT_FOUND", "UNAUTHORIZED"],
          }),
        },
      )
      .post("/confirm/:id", ({ user, params }) => confirmPayment(gw, user, params.id), {
        params: SessionParams,
        body: EmptyBody,
        detail: routeDoc({
          summary: "Confirm the order on a session: the amount leaves the balance",
          description:
            "Idempotent: confirming again answers the current status. Hosted checkouts answer `redirect`, the " +
            "merchant's success URL.",
          response: S.AnswerResponse,
          example: { status: "confirmed" },
          errors: ["INSUFFICIENT_FUNDS", "INVALID_STATE", "SESSION_NOT_FOUND", "UNAUTHORIZED", "ORDER_NOT_FOUND"],
        }),
      })
      .post("/decline/:id", ({ user, params }) => declinePayment(gw, user, params.id), {
        params: SessionParams,
        body: EmptyBody,
        detail: routeDoc({
          summary: "Decline the order on a session, or cancel a pay code that has none yet",
          description:
            "Nothing is charged. A QR session without an order answers `cancelled`; hosted checkouts answer " +
            "`redirect`, the cancel URL.",
          response: S.AnswerResponse,
          example: { status: "declined" },
          errors: ["INVALID_STATE", "SESSION_NOT_FOUND", "UNAUTHORIZED"],
        }),
      })
      // Issue 13: pay by scanning a merchant's code. Each scan may call the merchant, so it counts against the
      // per-user pay limit.
      .post(
        "/scan",
        ({ user, body }) => {
          enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
          return scanCode(gw, user, body);
        },
        {
          body: ScanRequestSchema,
          detail: {
            ...routeDoc({
              summary: "Scan a merchant's code (order QR, inventory QR, opencharge: URI) or a person's receive QR",
              response: ScanAnyResponseSchema,
            }),
            "x-oc-response": ScanAnyResponseSchema,
          },
        },
      )
      .post(
        "/scan/:id/order",
        ({ user, params, body }) => {
          enforceRate(gw, `pay:${user.id}`, gw.config.rateLimits.payPerUser);
          return orderFromInventory(gw, user, params.id, body);
        },
        {
          params: SessionParams,
          body: ScanOrderRequest,
          detail: {
            ...routeDoc({
              summary: "Order picked inventory items from the merchant (signed order back)",
              response: ScanResponseSchema,
            }),
            "x-oc-response": ScanResponseSchema,
          },
        },
      )
      .get("/history", ({ user, query }) => history(gw, user, query.limit, query.before), {
        query: t.Object({
          limit: t.Optional(t.String({ description: "1–100, default 20" })),
          before: t.Optional(t.String({ description: "`nextBefore` of the previous page" })),
        }),
        detail: routeDoc({
          summary: "Payments and credits, newest first",
          description:
            "`charged` tells money that left the balance (confirmed, paid, in review) from orders that were " +
            "declined, expired, still waiting or refunded.",
          response: S.HistoryPage,
          errors: ["INVALID_REQUEST"],
        }),
      })
      // Issue 17: send and receive money between people, and top-ups through another gateway.
      .post("/transfer", ({ user, body }) => sendMoney(gw, user, body), {
        body: TransferRequest,
        detail: routeDoc({
          summary: "Send money to a person: user_<id>, a handle, or an OCID (here or at another gateway)",
          description:
            "Inside this gateway: one transaction, `paid` at once. To a person's OCID at another gateway: debited " +
            "into settlement, " +
            "then a signed /transfer/create to their gateway; `pending` while its outcome is unknown (retried, never " +
            "refunded " +
            "automatically), `refunded` when that gateway refused. The same idempotencyKey never pays twice.",
          response: S.TransferResponse,
          errors: [
            "ACCOUNT_NOT_FOUND",
            "INSUFFICIENT_FUNDS",
            "INVALID_AMOUNT",
            "SETTLEMENT_NOT_SUPPORTED",
            "INVALID_STATE",
            "METADATA_UNAVAILABLE",
            "ACCOUNT_FROZEN",
            "LIMIT_EXCEEDED",
          ],
        }),
      })
      .get("/receive-qr", ({ user }) => receiveQr(gw, user), {
        detail: routeDoc({
          summary: "The user's receive QR: {type: ocid_transfer, ocid, gateway}",
          response: S.ReceiveQrResponse,
          errors: ["INVALID_STATE"],
        }),
      })
      .get(
        "/receive-qr.svg",
        async ({ user }) =>
          new Response(await receiveQrSvg(gw, user), { headers: { "content-type": "image/svg+xml" } }),
        {
          detail: routeDoc({
            summary: "The receive QR as SVG",
            contentType: "image/svg+xml",
            errors: ["INVALID_STATE"],
          }),
        },
      )
      .get(
        "/receive-qr.png",
        async ({ user }) =>
          new Response(new Uint8Array(await receiveQrPng(gw, user)), { headers: { "content-type": "image/png" } }),
        {
          detail: routeDoc({ summary: "The receive QR as PNG", contentType: "image/png", errors: ["INVALID_STATE"] }),
        },
      )
      .post("/topup", ({ user, body }) => startTopup(gw, user, body), {
        body: TopupRequest,
        detail: routeDoc({
          summary: "Top up through another gateway's hosted checkout",
          description:
            "Answers the checkout URL to send the user to; the balance is credited once that gateway's proof arrives.",
          response: S.TopupStarted,
          errors: [
            "SETTLEMENT_NOT_SUPPORTED",
            "INVALID_AMOUNT",
            "METADATA_UNAVAILABLE",
            "ACCOUNT_FROZEN",
            "LIMIT_EXCEEDED",
          ],
        }),
      })
      .get("/topups/:id", ({ user, params }) => topupOf(gw, user, params.id), {
        params: SessionParams,
        detail: routeDoc({
          summary: "A top-up and whether it was credited",
          response: S.TopupView,
          errors: ["NOT_FOUND"],
        }),
      })
      // Issue 21: the user's KYC tier, its limits, and verification through a KYC provider.
      .get("/kyc", ({ user }) => kycView(gw, user.id), {
        detail: routeDoc({
          summary: "The user's KYC tier, the limits in force and their verified grants",
          response: S.KycView,
        }),
      })
      .post("/kyc/start", ({ user, body }) => startKyc(gw, user, body ?? {}), {
        body: t.Optional(KycStartRequest),
        detail: routeDoc({
          summary: "Start a verification: the KYC provider's grant URL to send the browser to",
          description: "The provider sends the browser back to GET /opencharge/kyc/callback; the tier changes there.",
          response: S.KycStarted,
          errors: ["INVALID_STATE", "INVALID_REQUEST", "METADATA_UNAVAILABLE"],
        }),
      })
  );
}
