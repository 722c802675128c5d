// What the wallet app API (§10.2) and its WebSocket (§10.3) answer, as TypeBox schemas. The API reference is
// generated from them, the tests validate real responses against them, and the web page's client types are
// derived from them (web/api.ts imports the types only): one definition, no hand-copied shapes.
import { Type as T, type Static } from "@sinclair/typebox";
import { CurrencyCode, MetadataDocument, Ocid, Order } from "../protocol/schemas";
import { Inventory } from "../protocol/inventory";
import { ORDER_STATUSES } from "../domain/order-lifecycle";

const OrderStatus = T.Union(
  ORDER_STATUSES.map((s) => T.Literal(s)),
  { description: "§11.1 order status" },
);
const SessionId = T.String({ pattern: "^[0-9a-f]{32}$", description: "128-bit session id, hex" });
const UnixSeconds = T.Integer({ minimum: 0, description: "Unix time, seconds" });
const Amount = T.String({ description: "Decimal string with the currency's exponent (§6.3)", examples: ["25.00"] });

/** The merchant as we show it: its self-declared name, its OCID and the host of its registered endpoint. */
export const MerchantView = T.Object({
  ocid: Ocid,
  name: T.Optional(T.String({ description: "Self-declared in its metadata: not verified" })),
  icon: T.Optional(T.String()),
  host: T.Optional(T.String({ description: "Host of the endpoint registered for this OCID" })),
});
export type MerchantView = Static<typeof MerchantView>;

export const User = T.Object({
  id: T.String(),
  name: T.String(),
  ocid: T.Optional(T.Integer({ description: "The user's own end-user OCID, once the operator gave one (issue 17)" })),
});
export const Balance = T.Object({ currency: CurrencyCode, amount: Amount });
export type Balance = Static<typeof Balance>;

export const MeResponse = T.Object({ user: User, balances: T.Array(Balance) });
export type MeResponse = Static<typeof MeResponse>;

export const DemoLoginResponse = T.Object({ token: T.String({ description: "Bearer token (64 hex)" }), user: User });
export type DemoLoginResponse = Static<typeof DemoLoginResponse>;

export const QrPayload = T.Object({
  ocid: Ocid,
  order: T.String({ description: "URL the merchant POSTs the signed order to (§9.4)" }),
  expiresAt: UnixSeconds,
});

export const PayResponse = T.Object({
  sessionId: SessionId,
  qrPayload: QrPayload,
  qrText: T.String({ description: "The exact JSON text encoded in the QR code" }),
  qrCode: T.String({ description: "data:image/png;base64,… of the QR code" }),
  expiresAt: UnixSeconds,
});
export type PayResponse = Static<typeof PayResponse>;

/** Return URLs of an order: §9.4 spells them completed/cancelled, §9.6 success/cancel; we accept both. */
export const OrderUrls = T.Object(
  {
    order: T.Optional(T.Array(T.String())),
    completed: T.Optional(T.String()),
    cancelled: T.Optional(T.String()),
    success: T.Optional(T.String()),
    cancel: T.Optional(T.String()),
  },
  { additionalProperties: true },
);

export const SessionViewResponse = T.Object({
  sessionId: SessionId,
  kind: T.Union([T.Literal("qr"), T.Literal("checkout"), T.Literal("scan")]),
  sessionStatus: T.Union([T.Literal("pending"), T.Literal("used"), T.Literal("cancelled"), T.Literal("expired")]),
  expiresAt: UnixSeconds,
  order: T.Union([Order, T.Null()]),
  merchant: T.Union([MerchantView, T.Null()]),
  status: T.Union([OrderStatus, T.Null()]),
  confirmBy: T.Union([UnixSeconds, T.Null()]),
  txid: T.Optional(T.String()),
  urls: T.Optional(OrderUrls),
  /** Issue 13: what a `scan` session was made from; an inventory not ordered from yet carries its items. */
  scan: T.Optional(T.Object({ kind: T.String(), inventory: T.Optional(Inventory) })),
});
export type SessionViewResponse = Static<typeof SessionViewResponse>;

export const AnswerResponse = T.Object({
  status: T.Union([OrderStatus, T.Literal("cancelled")]),
  txid: T.Optional(T.String()),
  redirect: T.Optional(T.String({ description: "Hosted checkout: where to send the shopper back" })),
});
export type AnswerResponse = Static<typeof AnswerResponse>;

export const HistoryPayment = T.Object({
  kind: T.Literal("payment"),
  sessionId: SessionId,
  orderId: T.String(),
  merchant: MerchantView,
  amount: Amount,
  currency: CurrencyCode,
  status: OrderStatus,
  charged: T.Boolean({ description: "true once money left the balance (confirmed, paid, in review)" }),
  txid: T.Optional(T.String()),
  receivedAt: UnixSeconds,
  updatedAt: UnixSeconds,
});
export const HistoryCredit = T.Object({
  kind: T.Literal("credit"),
  amount: Amount,
  currency: CurrencyCode,
  issuer: T.Union([Ocid, T.String()], { description: "Issuer OCID, or the ledger reason (funding, transfer_in)" }),
  txid: T.Union([T.String(), T.Null()]),
  at: UnixSeconds,
});
// Issue 17: money between people and top-ups.
export const Party = T.Object(
  {
    ocid: T.Optional(Ocid),
    name: T.Optional(T.String()),
    userId: T.Optional(T.String({ description: "A user of this gateway" })),
    reference: T.Optional(
      T.String({ description: "The sender's reference at its gateway (their OCID, or user_<id>)" }),
    ),
    gateway: T.Optional(Ocid),
  },
  { description: "The other party: a user here, or a person (OCID) at another gateway" },
);
export const TransferStatus = T.Union([T.Literal("pending"), T.Literal("paid"), T.Literal("refunded")]);
export const TransferView = T.Object({
  id: T.String(),
  status: TransferStatus,
  to: Party,
  amount: Amount,
  currency: CurrencyCode,
  createdAt: UnixSeconds,
  updatedAt: UnixSeconds,
  memo: T.Optional(T.String()),
  txid: T.Optional(
    T.String({ description: "The proof: ours inside this gateway, the recipient gateway's across gateways" }),
  ),
  inReview: T.Optional(
    T.Boolean({ description: "The outcome stayed unknown past the deadline: the operator reconciles" }),
  ),
});
export const TransferResponse = T.Object({
  status: TransferStatus,
  txid: T.Optional(T.String()),
  transfer: TransferView,
});
export const ReceiveQrResponse = T.Object({
  qrPayload: T.Object({ type: T.Literal("ocid_transfer"), ocid: Ocid, gateway: Ocid }),
  qrText: T.String({ description: "The payload as encoded in the QR (keys in that order, no spaces)" }),
  qrCode: T.String({ description: "PNG data URL" }),
  handle: T.String({ description: "The user's handle, for people at this gateway" }),
  userRef: T.String({ description: "user_<id>" }),
});
export const TopupStatus = T.Union([T.Literal("pending"), T.Literal("credited")]);
export const TopupStarted = T.Object({
  id: T.String(),
  status: T.Literal("pending"),
  checkoutUrl: T.String(),
  amount: Amount,
  currency: CurrencyCode,
  via: Ocid,
});
export const TopupView = T.Object({
  id: T.String(),
  via: Ocid,
  amount: Amount,
  currency: CurrencyCode,
  status: TopupStatus,
  createdAt: UnixSeconds,
  checkoutUrl: T.Optional(T.String()),
  txid: T.Optional(T.String()),
});
export const HistoryCreditFrom = T.Object({ ...HistoryCredit.properties, from: T.Optional(Party) });
export const HistoryTopup = T.Object({ ...HistoryCreditFrom.properties, kind: T.Literal("topup") });
const HistoryTransfer = {
  amount: Amount,
  currency: CurrencyCode,
  status: TransferStatus,
  at: UnixSeconds,
  transferId: T.String(),
  txid: T.Optional(T.String()),
  memo: T.Optional(T.String()),
};
export const HistorySent = T.Object({ kind: T.Literal("sent"), to: Party, ...HistoryTransfer });
export const HistoryReceived = T.Object({ kind: T.Literal("received"), from: Party, ...HistoryTransfer });
export const HistoryItem = T.Union([HistoryPayment, HistoryCreditFrom, HistoryTopup, HistorySent, HistoryReceived]);
export type HistoryItem = Static<typeof HistoryItem>;

export const HistoryPage = T.Object({
  items: T.Array(HistoryItem),
  nextBefore: T.Optional(T.String({ description: "Pass as ?before= for the next page" })),
});
export type HistoryPage = Static<typeof HistoryPage>;

export const OpenCode = T.Object({ sessionId: SessionId, createdAt: UnixSeconds, expiresAt: UnixSeconds });
export const OpenCodesResponse = T.Object({ codes: T.Array(OpenCode) });
export type OpenCodesResponse = Static<typeof OpenCodesResponse>;
export const CancelCodesResponse = T.Object({ cancelled: T.Integer({ minimum: 0 }) });

// ---------------------------------------------------------------------------------------------------
// WebSocket /app/ws (§10.3)
// ---------------------------------------------------------------------------------------------------
const Ref = T.Optional(T.Union([T.String(), T.Number()], { description: "Echoed from the request" }));

export const WsReady = T.Object({ type: T.Literal("ready"), user: T.Object({ id: T.String() }) });
export const WsPaymentRequest = T.Object({
  type: T.Literal("payment_request"),
  sessionId: SessionId,
  merchant: MerchantView,
  order: Order,
  expiresAt: UnixSeconds,
});
export const WsPaymentUpdate = T.Object({
  type: T.Literal("payment_update"),
  sessionId: SessionId,
  status: OrderStatus,
  txid: T.Optional(T.String()),
});
export const WsResult = T.Object({
  type: T.Literal("result"),
  ref: Ref,
  sessionId: T.String(),
  status: AnswerResponse.properties.status,
  txid: T.Optional(T.String()),
  redirect: T.Optional(T.String()),
});
export const WsPong = T.Object({ type: T.Literal("pong"), ts: T.Optional(T.Unknown()) });
export const WsError = T.Object({
  type: T.Literal("error"),
  ref: Ref,
  code: T.String(),
  message: T.String(),
  details: T.Optional(T.Record(T.String(), T.Unknown())),
});
export const WsCreditReceived = T.Object({
  type: T.Literal("credit_received"),
  kind: T.Union([T.Literal("transfer"), T.Literal("topup"), T.Literal("credit")]),
  amount: Amount,
  currency: CurrencyCode,
  from: Party,
  txid: T.Optional(T.String()),
  memo: T.Optional(T.String()),
  at: UnixSeconds,
});
export const WsTransferUpdate = T.Object({ type: T.Literal("transfer_update"), transfer: TransferView });
export type WsTransferUpdate = Static<typeof WsTransferUpdate>;
export type TransferView = Static<typeof TransferView>;
export const WsServerMessage = T.Union([
  WsReady,
  WsPaymentRequest,
  WsPaymentUpdate,
  WsResult,
  WsPong,
  WsError,
  WsCreditReceived,
  WsTransferUpdate,
]);
export type WsServerMessage = Static<typeof WsServerMessage>;
export type WsPaymentRequest = Static<typeof WsPaymentRequest>;
export type WsPaymentUpdate = Static<typeof WsPaymentUpdate>;

export const WsClientMessage = T.Union([
  T.Object({ type: T.Literal("auth"), token: T.String() }),
  T.Object({ type: T.Literal("ping"), ts: T.Optional(T.Unknown()) }),
  T.Object({ type: T.Union([T.Literal("confirm"), T.Literal("decline")]), sessionId: SessionId, ref: Ref }),
]);

/** GET /opencharge/users/:ocid/metadata.json (issue 17): a metadata document naming the gateway holding the wallet. */
export const UserMetadataDocument = T.Object({ ...MetadataDocument.properties, gateway: Ocid });

// Issue 21: KYC tier and verification.
const LimitsByCurrency = T.Record(T.String(), T.Record(T.String(), Amount), {
  description: "currency → limit name → maximum",
});
export const KycView = T.Object({
  tier: T.Union([T.String(), T.Null()], { description: "the tier in force; null when no tiers are configured" }),
  source: T.Union([T.Literal("default"), T.Literal("kyc"), T.Literal("operator")]),
  limits: LimitsByCurrency,
  tiers: T.Array(T.Object({ name: T.String(), grants: T.Array(T.String()) })),
  next: T.Union([T.String(), T.Null()]),
  providers: T.Array(Ocid),
  canVerify: T.Boolean(),
  grants: T.Array(
    T.Object({
      grant: T.String(),
      provider: Ocid,
      status: T.String(),
      verified: T.Boolean(),
      expiresAt: T.Union([UnixSeconds, T.Null()]),
    }),
  ),
});
export const KycStarted = T.Object({
  url: T.String({ description: "the provider's grant page: send the browser there" }),
  provider: Ocid,
  grants: T.Array(T.String()),
  expiresAt: UnixSeconds,
});
