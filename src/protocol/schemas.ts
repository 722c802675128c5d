// TypeBox schemas for everything that crosses the wire (§7, §9, §13). Types are derived from them.
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

export const MAX_OCID = Number.MAX_SAFE_INTEGER;
export const Ocid = T.Integer({ minimum: 1, maximum: MAX_OCID });
export const Seconds = T.Integer({ minimum: 1, maximum: 1e11 });
const NO_CONTROL = "^[^\\u0000-\\u001F\\u007F]*$";
export const Id128 = T.String({ minLength: 1, maxLength: 128, pattern: NO_CONTROL });
export const Ref128 = T.String({ maxLength: 128 });
export const Memo = T.String({ maxLength: 512 });
export const CurrencyCode = T.String({ pattern: "^[A-Z]{3,5}$" });
export const AmountSyntax = T.String({ maxLength: 32, pattern: "^(0|[1-9][0-9]*)(\\.[0-9]+)?$" });
export const Url = T.String({ maxLength: 2048, pattern: "^[hH][tT][tT][pP][sS]?://[^\\s/?#]+[^\\s]*$" });
export const SignatureHex = T.String({ maxLength: 1024 });

// Items are display-only (§5.4: never summed or checked), so the docs' POS numbers are accepted as they are
// (issue 12); `amount` is what gets paid and stays a decimal string.
export const OrderItem = T.Object(
  {
    id: Id128,
    name: T.String({ minLength: 1, maxLength: 256 }),
    quantity: T.Number({ exclusiveMinimum: 0 }),
    price: T.Union([AmountSyntax, T.Number({ minimum: 0 })]),
  },
  { additionalProperties: true },
);

export const Order = T.Object(
  {
    id: Id128,
    ocid: Ocid,
    reference: T.Optional(Ref128),
    amount: T.String({ maxLength: 64 }),
    currency: CurrencyCode,
    items: T.Optional(T.Array(OrderItem, { maxItems: 200 })),
    memo: T.Optional(Memo),
    createdAt: Seconds,
    expiresAt: T.Optional(Seconds),
    accepts: T.Optional(T.Array(Ocid, { maxItems: 32 })),
  },
  { additionalProperties: true },
);
export type Order = Static<typeof Order>;

export const SessionOrderUrls = T.Object(
  {
    order: T.Optional(T.Array(Url, { maxItems: 10 })),
    completed: T.Optional(Url),
    cancelled: T.Optional(Url),
  },
  { additionalProperties: true },
);
export type SessionOrderUrls = Static<typeof SessionOrderUrls>;

/** §9.6 says success/cancel; §9.4's completed/cancelled are accepted too (issue 19), success/cancel winning. */
export const CheckoutUrls = T.Object(
  { success: T.Optional(Url), cancel: T.Optional(Url), completed: T.Optional(Url), cancelled: T.Optional(Url) },
  { additionalProperties: true },
);

export const SubmitOrderRequest = T.Object(
  { order: Order, signature: SignatureHex, urls: SessionOrderUrls },
  { additionalProperties: true },
);
export type SubmitOrderRequest = Static<typeof SubmitOrderRequest>;

export const CheckoutCreateRequest = T.Object(
  { order: Order, signature: SignatureHex, merchantOcid: Ocid, urls: CheckoutUrls },
  { additionalProperties: true },
);
export type CheckoutCreateRequest = Static<typeof CheckoutCreateRequest>;

const Party = T.Object({ ocid: Ocid, reference: T.Optional(Ref128) }, { additionalProperties: true });

export const TransferCreateRequest = T.Object(
  {
    from: Party,
    to: Party,
    amount: T.String({ maxLength: 64 }),
    currency: CurrencyCode,
    memo: T.Optional(Memo),
    order: T.Optional(
      T.Object(
        { id: T.Optional(Id128), urls: T.Optional(T.Array(Url, { maxItems: 10 })) },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);
export type TransferCreateRequest = Static<typeof TransferCreateRequest>;

export const Proof = T.Object(
  {
    txid: Id128,
    issuer: Ocid,
    from: T.Object({ ocid: T.Optional(Ocid), reference: T.Optional(Ref128) }, { additionalProperties: true }),
    to: Party,
    amount: AmountSyntax,
    currency: CurrencyCode,
    timestamp: Seconds,
    memo: T.Optional(Memo),
  },
  { additionalProperties: true },
);
export type Proof = Static<typeof Proof>;

export const SignedProof = T.Object({ proof: Proof, signature: SignatureHex }, { additionalProperties: true });
export type SignedProof = Static<typeof SignedProof>;

/** §9.8 envelope: both members present; the proof's own structure is judged separately (INVALID_PROOF). */
export const TransferWebhookRequest = T.Object(
  { proof: T.Record(T.String(), T.Unknown()), signature: T.String() },
  { additionalProperties: true },
);

export const Settlement = T.Object({ currencies: T.Array(CurrencyCode), accepts: T.Array(Ocid) });

export const MetadataConfig = T.Object({
  publicKey: T.String({ pattern: "^[0-9a-f]{128}$" }),
  endpoint: Url,
  capabilities: T.Array(T.String()),
  settlement: Settlement,
  // Issue 15: our key before the last rotation, published (signed by the current key) for a grace period.
  previousKey: T.Optional(T.String({ pattern: "^[0-9a-f]{128}$" })),
  keyRotatedAt: T.Optional(T.Integer({ minimum: 1 })),
});
export type MetadataConfig = Static<typeof MetadataConfig>;

/** The nested document we publish (§2.3, §9.2). */
export const MetadataDocument = T.Object({
  opencharge: T.Literal("0.1"),
  name: T.String({ minLength: 1 }),
  profile: T.Optional(T.String()),
  icon: T.Optional(T.String()),
  contact: T.Optional(T.String()),
  config: MetadataConfig,
  // Issue 12: unsigned flat copies of config's fields, for readers of the older flat shape (§2.3).
  publicKey: T.Optional(T.String()),
  endpoint: T.Optional(T.String()),
  capabilities: T.Optional(T.Array(T.String())),
  settlement: T.Optional(T.Object({ currencies: T.Array(T.String()), accepts: T.Array(Ocid) })),
  kyc: T.Optional(T.Array(Ocid)),
  signature: T.String({ pattern: "^[0-9a-f]{130}$" }),
});
export type MetadataDocument = Static<typeof MetadataDocument>;

/** The older flat form (§2.3): no `config` wrapper, no signature. */
export const FlatMetadataDocument = T.Object(
  {
    opencharge: T.Optional(T.String()),
    name: T.String(),
    description: T.Optional(T.String()),
    publicKey: T.String(),
    endpoint: T.String(),
    capabilities: T.Optional(T.Array(T.String())),
    settlement: T.Optional(
      T.Object({ currencies: T.Optional(T.Array(T.Unknown())), accepts: T.Optional(T.Array(T.Unknown())) }),
    ),
  },
  { additionalProperties: true },
);

/** One shape for a peer, whatever the document's form (§2.4 step 5). */
export type PeerMetadata = {
  ocid: number;
  name: string;
  icon?: string;
  publicKey: Uint8Array;
  endpoint: string;
  capabilities: string[];
  settlement: { currencies: string[]; accepts: number[] };
  fetchedAt: number;
  /** An end-user OCID's document names the gateway that holds the user's wallet (issue 17). */
  gateway?: number;
};

export const ErrorResponse = T.Object({
  error: T.Object({ code: T.String(), message: T.String(), details: T.Optional(T.Record(T.String(), T.Unknown())) }),
});

export const SubmitOrderResponse = T.Object({ urls: T.Object({ status: T.String() }) });

export type { Static, TSchema };
