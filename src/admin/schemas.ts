// Issue 16: /admin request and response schemas (TypeBox: validated on the way in, published in openapi.json).
import { t, type TSchema } from "elysia";

const Decimal = t.String({ maxLength: 32, description: 'Decimal amount string (SPEC §6.3), e.g. "12.50"' });
const Currency = t.String({ pattern: "^[A-Z]{3,5}$" });
const Cursor = t.Optional(t.String({ pattern: "^[0-9]{1,19}$", description: "nextCursor from the previous page" }));
const Limit = t.Optional(t.String({ pattern: "^[0-9]{1,3}$", description: "1–200, default 50" }));

export const PageQuery = t.Object({ limit: Limit, cursor: Cursor });
export const Page = <T extends TSchema>(item: T) =>
  t.Object({ items: t.Array(item), nextCursor: t.Optional(t.String()) });

export const Balance = t.Object({ currency: t.String(), amount: t.String() });
export const UserSummary = t.Object({ id: t.String(), name: t.String(), createdAt: t.Integer(), frozen: t.Boolean() });
export const LimitsView = t.Record(t.String(), t.Record(t.String(), t.String()), {
  description: "currency → limit name → maximum",
});
/** Issue 21: the KYC tier in force, where it comes from, and the limits in force (tier + per-user values on top). */
export const TierView = t.Object({
  name: t.Union([t.String(), t.Null()]),
  source: t.Union([t.Literal("default"), t.Literal("kyc"), t.Literal("operator")]),
  pinned: t.Union([t.String(), t.Null()], { description: "the tier an operator set, if any" }),
  verifiedGrants: t.Array(t.String()),
  limitsInForce: LimitsView,
});
export const UserDetail = t.Object({
  user: UserSummary,
  balances: t.Array(Balance),
  limits: LimitsView,
  tier: TierView,
});
export const TierBody = t.Object({
  tier: t.Union([t.String({ minLength: 1, maxLength: 32 }), t.Null()], {
    description: "a configured tier name; null returns the user to their KYC tier",
  }),
});
export const TierResult = t.Object({ userId: t.String(), tier: TierView });
export const CreateUserBody = t.Object({ name: t.String({ minLength: 1, maxLength: 64 }) });
export const UserWithToken = t.Object({
  user: t.Object({ id: t.String(), name: t.String() }),
  token: t.String({ description: "Shown once" }),
});
export const UserEnvelope = t.Object({ user: UserSummary });
/** Issue 22: the one-time passkey enrolment link (a secret: shown once). */
export const EnrolLink = t.Object({
  user: t.Object({ id: t.String(), name: t.String() }),
  url: t.String({ description: "webBaseUrl/#enrol=<token>; shown once" }),
  expiresAt: t.Integer(),
});
export const FundsBody = t.Object({ currency: Currency, amount: Decimal });
export const Movement = t.Object({
  movement: t.Object({
    id: t.String(),
    kind: t.Union([t.Literal("credit"), t.Literal("debit")]),
    account: t.String(),
    currency: t.String(),
    amount: t.String(),
    balance: t.String({ description: "The account's balance after the movement" }),
    createdAt: t.Integer(),
  }),
});
const LimitValue = t.Optional(t.Union([Decimal, t.Null()]));
export const LimitsBody = t.Object({
  currency: Currency,
  perPayment: LimitValue,
  perDay: LimitValue,
  maxBalance: LimitValue,
});
export const LimitsResult = t.Object({ userId: t.String(), limits: LimitsView });
export const AuditItem = t.Object({
  id: t.Integer(),
  actor: t.String(),
  action: t.String(),
  args: t.Record(t.String(), t.Unknown()),
  at: t.Integer(),
});

const Nullable = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
export const OrdersQuery = t.Object({
  limit: Limit,
  cursor: Cursor,
  status: t.Optional(t.String()),
  merchant: t.Optional(t.String({ description: "Merchant OCID" })),
  userId: t.Optional(t.String()),
  from: t.Optional(t.String({ description: "Received at or after (Unix seconds or ISO 8601)" })),
  to: t.Optional(t.String({ description: "Received before (Unix seconds or ISO 8601)" })),
});
export const OrderItem = t.Object({
  id: t.Integer({ description: "Our id" }),
  orderId: t.String({ description: "The merchant's order id" }),
  merchant: t.Integer(),
  caller: t.Integer(),
  userId: Nullable(t.String()),
  amount: t.String(),
  currency: t.String(),
  status: t.String(),
  refunded: t.String({ description: "Sum of succeeded refunds" }),
  settlement: Nullable(t.Object({ type: t.String(), via: Nullable(t.Integer()) })),
  txid: Nullable(t.String()),
  receivedAt: t.Integer(),
  updatedAt: t.Integer(),
});
export const Refund = t.Object({
  id: t.String(),
  orderId: t.Integer(),
  amount: t.String(),
  currency: t.String(),
  status: t.Union([t.Literal("pending"), t.Literal("succeeded"), t.Literal("failed")]),
  method: t.Union([t.Literal("direct"), t.Literal("partner"), t.Literal("merchant_transfer")]),
  txid: Nullable(t.String()),
  createdAt: t.Integer(),
  completedAt: Nullable(t.Integer()),
});
export const DeliveryItem = t.Object({
  id: t.String(),
  kind: t.String({ description: "proof (to a peer's /transfer/webhook) or event (to an operator endpoint)" }),
  orderId: Nullable(t.Integer()),
  target: t.Union([t.Integer(), t.String(), t.Null()]),
  txid: t.String({ description: "Proof txid, or the event id" }),
  state: t.String(),
  attempts: t.Integer(),
  nextAttemptAt: t.Integer(),
  lastHttpStatus: Nullable(t.Integer()),
  lastError: Nullable(t.String()),
  createdAt: t.Integer(),
  updatedAt: t.Integer(),
});
export const OrderDetail = t.Object({
  order: t.Intersect([
    OrderItem,
    t.Object({
      order: t.Unknown(),
      urls: t.Unknown(),
      candidates: t.Array(t.Unknown()),
      confirmedAt: Nullable(t.Integer()),
    }),
  ]),
  proof: Nullable(t.Object({ proof: t.Unknown(), signature: Nullable(t.String()) })),
  job: Nullable(
    t.Object({
      id: t.String(),
      state: t.String(),
      step: t.String(),
      pathIndex: t.Integer(),
      pinned: t.Boolean(),
      attempts: t.Integer(),
      deadline: t.Integer(),
      lastError: Nullable(t.String()),
    }),
  ),
  deliveries: t.Array(DeliveryItem),
  anomalies: t.Array(
    t.Object({
      id: t.Integer(),
      kind: t.String(),
      detail: t.String(),
      createdAt: t.Integer(),
      resolvedAt: Nullable(t.Integer()),
    }),
  ),
  refunds: t.Array(Refund),
});
export const ResolveBody = t.Object({
  action: t.Union([t.Literal("paid"), t.Literal("refund")]),
  proof: t.Optional(
    t.Object(
      { proof: t.Record(t.String(), t.Unknown()), signature: t.String() },
      { description: "For `paid`: the peer's final proof" },
    ),
  ),
});
export const ResolveResult = t.Object({ message: t.String(), order: OrderItem });
export const RefundBody = t.Object(
  { amount: t.Optional(Decimal) },
  { description: "Omit amount to refund what is left" },
);
export const RefundEnvelope = t.Object({ refund: Refund });
export const DeliveriesQuery = t.Object({ limit: Limit, cursor: Cursor, state: t.Optional(t.String()) });
export const DeliveryEnvelope = t.Object({ delivery: DeliveryItem });
export const BalancesQuery = t.Object({ account: t.Optional(t.String({ maxLength: 80 })) });
export const Balances = t.Object({
  balances: t.Array(t.Object({ account: t.String(), currency: t.String(), balance: t.String() })),
  check: t.Object({ ok: t.Boolean(), problems: t.Array(t.String()) }),
});
export const RangeQuery = t.Object({
  from: t.Optional(t.String({ description: "Unix seconds or ISO 8601, inclusive" })),
  to: t.Optional(t.String({ description: "Unix seconds or ISO 8601, exclusive" })),
});
export const PeerBalances = t.Object({ ocid: t.Integer(), account: t.String(), balances: t.Array(Balance) });
export const EndpointBody = t.Object({
  url: t.String({ maxLength: 2048, description: "Where events are POSTed (the SSRF guard applies)" }),
  eventTypes: t.Array(t.String({ maxLength: 40 }), { maxItems: 20, description: 'Event types, or ["*"] for all' }),
});
export const Endpoint = t.Object({
  id: t.String(),
  url: t.String(),
  eventTypes: t.Array(t.String()),
  createdAt: t.Integer(),
  disabled: t.Boolean(),
});
export const EndpointCreated = t.Object({
  endpoint: Endpoint,
  secret: t.String({ description: "whsec_… — shown once; verify webhook-signature with it" }),
});
export const EndpointEnvelope = t.Object({ endpoint: Endpoint });
export const Endpoints = t.Object({ items: t.Array(Endpoint) });
export const EventItem = t.Object({
  id: t.String(),
  type: t.String(),
  timestamp: t.String(),
  data: t.Unknown(),
  createdAt: t.Integer(),
});
export const EventsQuery = t.Object({ limit: Limit, cursor: Cursor, type: t.Optional(t.String()) });
export const EventReplay = t.Object({ event: EventItem, deliveries: t.Array(DeliveryItem) });
