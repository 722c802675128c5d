// Issue 13: request and response schemas of POST /app/scan and POST /app/scan/{sessionId}/order, used by the
// routes to validate and by the OpenAPI document to publish them (one definition).
import { Type as T } from "@sinclair/typebox";
import { Inventory, ScanOrderRequest } from "../protocol/inventory";

export const ScanRequestSchema = T.Object(
  {
    qrContent: T.String({
      minLength: 1,
      maxLength: 4096,
      description: "Exactly what the camera read: a JSON order/inventory code or an opencharge: URI",
    }),
    amount: T.Optional(
      T.String({ maxLength: 32, description: "For opencharge: codes without an amount: decimal string (SPEC §6.2)" }),
    ),
    currency: T.Optional(T.String({ maxLength: 5, description: "For opencharge: codes without a currency" })),
  },
  { additionalProperties: false },
);

const MerchantCard = T.Object({
  ocid: T.Integer(),
  name: T.Optional(T.String()),
  icon: T.Optional(T.String()),
  host: T.String({ description: "Host of the merchant's registered endpoint (from the directory, not from the code)" }),
});

export const ScanResponseSchema = T.Object({
  sessionId: T.String({ pattern: "^[0-9a-f]{32}$" }),
  kind: T.Union([T.Literal("order"), T.Literal("inventory"), T.Literal("payment"), T.Literal("checkout")], {
    description: "checkout: one of our hosted checkouts (its page's QR), answered here with confirm/decline (issue 22)",
  }),
  merchant: MerchantCard,
  order: T.Optional(
    T.Record(T.String(), T.Unknown(), {
      description:
        "The order as the merchant signed it (kind order), or the one built from an opencharge: code (kind payment, " +
        "unsigned)",
    }),
  ),
  inventory: T.Optional(Inventory),
  expiresAt: T.Integer({ description: "Confirm by (order, payment) or pick by (inventory), Unix seconds" }),
});

/** Issue 17: a person's receive code prefills a transfer (POST /app/transfer); nothing is stored. */
const TransferScanResponse = T.Object({
  kind: T.Literal("ocid_transfer"),
  transfer: T.Object({
    to: T.Integer({ description: "The person's OCID: the `to` of POST /app/transfer" }),
    gateway: T.Integer({ description: "The gateway holding their wallet (checked against the directory)" }),
    name: T.Optional(T.String({ description: "Their name as their gateway publishes it" })),
    local: T.Boolean({ description: "True when they are a user of this gateway" }),
  }),
});

/** What POST /app/scan answers: a merchant code's session, or a person's receive code's transfer prefill. */
export const ScanAnyResponseSchema = T.Union([ScanResponseSchema, TransferScanResponse]);

export { ScanOrderRequest };
