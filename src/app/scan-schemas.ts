// Issue 13: request and response schemas of POST /app/scan and POST /app/scan/{sessionId}/order, used by the
// routes to validate and by the OpenAPI document to publish them (one definition).
import { Type as T } from "@sinclair/typebox";
import { Inventory, ScanOrderRequest } from "../protocol/inventory";

export const ScanRequestSchema = T.Object(
  {
    qrContent: T.String({ minLength: 1, maxLength: 4096, description: "Exactly what the camera read: a JSON order/inventory code or an opencharge: URI" }),
    amount: T.Optional(T.String({ maxLength: 32, description: "For opencharge: codes without an amount: decimal string (SPEC §6.2)" })),
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
  kind: T.Union([T.Literal("order"), T.Literal("inventory"), T.Literal("payment")]),
  merchant: MerchantCard,
  order: T.Optional(T.Record(T.String(), T.Unknown(), { description: "The order as the merchant signed it (kind order), or the one built from an opencharge: code (kind payment, unsigned)" })),
  inventory: T.Optional(Inventory),
  expiresAt: T.Integer({ description: "Confirm by (order, payment) or pick by (inventory), Unix seconds" }),
});

export { ScanOrderRequest };
