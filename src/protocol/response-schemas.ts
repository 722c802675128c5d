// What the protocol routes (§9) answer with 200, as TypeBox schemas: the API reference shows them and the tests
// validate real answers against them. Request schemas live in ./schemas.ts.
import { Type as T, type Static } from "@sinclair/typebox";
import { CurrencyCode, Ocid, Proof, Settlement, SignatureHex } from "./schemas";
import { ORDER_STATUSES } from "./order-status";

export { SubmitOrderResponse, MetadataDocument } from "./schemas";

export const CheckoutCreateResponse = T.Object({
  checkout_url: T.String({
    description: "Send the shopper here: our hosted page shows the order, then asks them to sign in",
  }),
  session_id: T.String({ pattern: "^[0-9a-f]{32}$" }),
  expires_at: T.Integer({ description: "Unix seconds" }),
});

export const OrderStatusResponse = T.Object({
  order: T.Object({ id: T.String(), ocid: Ocid, amount: T.String(), currency: CurrencyCode }),
  status: T.Union(ORDER_STATUSES.map((s) => T.Literal(s))),
  txid: T.Optional(T.String()),
  proof: T.Optional(Proof),
  signature: T.Optional(SignatureHex),
  settlement: T.Optional(T.Object({ type: T.String(), via: T.Optional(Ocid) })),
  delivery: T.Optional(T.Object({ state: T.String(), attempts: T.Integer() })),
  updatedAt: T.Integer(),
});
export type OrderStatusResponse = Static<typeof OrderStatusResponse>;

/** §9.7: the transfer's signed proof, as issued (byte-identical on an idempotent replay). */
export const TransferCreateResponse = T.Object({ proof: Proof, signature: SignatureHex });

export const TransferWebhookResponse = T.Object({
  status: T.Union([T.Literal("accepted"), T.Literal("rejected")]),
  txid: T.String(),
  message: T.Optional(T.String()),
});

export const CapabilitiesResponse = T.Object({
  ocid: Ocid,
  name: T.String(),
  capabilities: T.Array(T.String()),
  settlement: Settlement,
  partner: T.Optional(
    T.Object({
      reserveCurrencies: T.Array(CurrencyCode),
      accounts: T.Array(T.Object({ currency: CurrencyCode, amount: T.String() })),
    }),
  ),
});
