// Issue 22: what the hosted checkout page reads before anyone signs in on it: the QR of its own URL and the
// outcome once the shopper answered on the phone. Public (the session id is the capability), rate-limited per IP.
import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway";
import { clientIp, enforceRate } from "./protocol-route";
import { checkoutOutcome, checkoutQrSvg } from "../flows/checkout-approve";
import { routeDoc } from "../http/route-docs";
import { CheckoutOutcome } from "../app/sign-in-schemas";

const Params = t.Object({ id: t.String({ maxLength: 64 }) });

export function checkoutApproveRoutes(gw: Gateway) {
  return new Elysia({ name: "oc-checkout-approve", prefix: "/app/checkout" })
    .get(
      "/:id/status",
      (ctx) => {
        enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
        return checkoutOutcome(gw, ctx.params.id);
      },
      {
        params: Params,
        detail: routeDoc({
          summary: "A hosted checkout's outcome (no token): status, and the merchant URL to go to once final",
          description:
            "The desktop checkout page polls this while the shopper answers on the phone (issue 22). Rate-limited " +
            "per IP.",
          response: CheckoutOutcome,
          errors: ["SESSION_NOT_FOUND", "RATE_LIMITED"],
        }),
      },
    )
    .get(
      "/:id/qr.svg",
      async (ctx) => {
        enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
        const svg = await checkoutQrSvg(gw, ctx.params.id);
        return new Response(svg, { headers: { "content-type": "image/svg+xml", "cache-control": "no-store" } });
      },
      {
        params: Params,
        detail: routeDoc({
          summary: "QR of a hosted checkout's own URL, to open it on the phone the wallet is on",
          response: t.String({ description: "SVG document" }),
          contentType: "image/svg+xml",
          errors: ["SESSION_NOT_FOUND", "INVALID_STATE", "RATE_LIMITED"],
        }),
      },
    );
}
