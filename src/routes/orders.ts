import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolOptions, protocolRoute } from "../http/protocol-route";
import { wireTarget } from "../http/raw-body";
import { CheckoutCreateRequest, SubmitOrderRequest } from "../protocol/schemas";
import { createCheckout } from "../flows/checkout";
import { submitOrderToSession } from "../flows/submit-order";
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
        async ({ caller, body, params, recordNonce }) => ({ body: await submitOrderToSession(gw, caller, params.sessionId ?? "", body, recordNonce) }),
        { nonceInTransaction: true },
      ),
      protocolOptions(SubmitOrderRequest, "Submit an order to a user's pay session (SPEC §9.4)"),
    )
    .post(
      `${base}/checkout/create`,
      protocolRoute(gw, CheckoutCreateRequest, async ({ caller, body }) => ({ body: await createCheckout(gw, caller, body) })),
      protocolOptions(CheckoutCreateRequest, "Create a hosted checkout for a merchant order (SPEC §9.6)"),
    )
    .get(
      `${base}/orders/:orderId/status`,
      protocolRoute(gw, null, ({ caller, request }) => ({ body: orderStatus(gw, caller.ocid, decodeSegment(rawSegment(request.url))) })),
      protocolOptions(null, "Order status for the calling merchant or gateway (SPEC §9.5)"),
    );
}

/** The order id as sent (percent-encoded), taken from the wire target: the router may already have decoded it. */
function rawSegment(url: string): string {
  const path = wireTarget(url).split("?")[0]!;
  const parts = path.split("/");
  return parts[parts.length - 2] ?? "";
}
