import * as R from "../protocol/response-schemas";
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolOptions, protocolRoute } from "./protocol-route";
import { wireTarget } from "../http/raw-body";
import { CheckoutCreateRequest, SubmitOrderRequest } from "../protocol/schemas";
import { createCheckout } from "../flows/checkout";
import { submitOrderToSession, submitted } from "../flows/submit-order";
import { orderDigest } from "../flows/order-intake";
import { parseSignature } from "../protocol/signatures";
import { orderStatus } from "../flows/order-status";
import { ProtocolError } from "../protocol/errors";

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ProtocolError("ORDER_NOT_FOUND");
  }
}

/** §9.4, §9.5 and §9.6. Raw bodies (parse: none): the wrapper reads and verifies the exact bytes. */
export function orderRoutes(gw: Gateway) {
  const base = gw.config.basePath;
  return new Elysia({ name: "oc-orders" })
    .post(
      `${base}/orders/create/:sessionId`,
      protocolRoute(
        gw,
        SubmitOrderRequest,
        async ({ caller, body, params, recordNonce, prechecked }) => ({
          body: await submitOrderToSession(gw, caller, params.sessionId ?? "", body, recordNonce, prechecked[0]),
        }),
        {
          nonceInTransaction: true,
          // The order's signature and our success answer, done with the request's verification (one worker trip).
          expect: ({ order, signature }) => {
            const sig = parseSignature(signature);
            if (!sig.ok) return null;
            const success = JSON.stringify(submitted(gw.config.endpoint, order.id));
            return { checks: [{ digest: orderDigest(order), r: sig.r, s: sig.s }], success };
          },
        },
      ),
      protocolOptions(SubmitOrderRequest, "Submit an order to a user's pay session (SPEC §9.4)", {
        description:
          "The merchant's POS scanned the wallet's QR code (`qrPayload.order` is this URL) and posts its signed " +
          "order. " +
          "The user is prompted at once; poll `urls.status` for the outcome. Each session takes one order.",
        response: R.SubmitOrderResponse,
        errors: [
          "SESSION_NOT_FOUND",
          "SESSION_EXPIRED",
          "SESSION_USED",
          "UNAUTHORIZED",
          "INVALID_SIGNATURE",
          "ORDER_EXPIRED",
          "INVALID_AMOUNT",
          "SETTLEMENT_NOT_SUPPORTED",
          "ORDER_ALREADY_EXISTS",
        ],
      }),
    )
    .post(
      `${base}/checkout/create`,
      protocolRoute(gw, CheckoutCreateRequest, async ({ caller, body }) => ({
        body: await createCheckout(gw, caller, body),
      })),
      protocolOptions(CheckoutCreateRequest, "Create a hosted checkout for a merchant order (SPEC §9.6)", {
        description:
          "A merchant gateway asks our users to pay a merchant order on our hosted page; the checkout is paid to " +
          "the caller, " +
          "so `order.accepts` must include its OCID. Return URLs: `urls.success`/`urls.cancel` (§9.6) or " +
          "`urls.completed`/`urls.cancelled` (the §9.4 spelling) are both accepted; success/cancel win when both " +
          "are sent.",
        response: R.CheckoutCreateResponse,
        errors: [
          "UNAUTHORIZED",
          "SETTLEMENT_NOT_SUPPORTED",
          "INVALID_SIGNATURE",
          "ORDER_EXPIRED",
          "INVALID_AMOUNT",
          "ORDER_ALREADY_EXISTS",
        ],
      }),
    )
    .get(
      `${base}/orders/:orderId/status`,
      protocolRoute(gw, null, async ({ caller, request }) => ({
        body: await orderStatus(gw, caller.ocid, decodeSegment(rawSegment(request.url))),
      })),
      protocolOptions(null, "Order status for the calling merchant or gateway (SPEC §9.5)", {
        description:
          "Only the caller that submitted the order sees it. Once `paid`, the answer carries our signed settlement " +
          "proof.",
        response: R.OrderStatusResponse,
        errors: ["ORDER_NOT_FOUND"],
      }),
    );
}

/** The order id as sent (percent-encoded), taken from the wire target: the router may already have decoded it. */
function rawSegment(url: string): string {
  const path = wireTarget(url).split("?")[0]!;
  const parts = path.split("/");
  return parts[parts.length - 2] ?? "";
}
