// §11.1 the order lifecycle as data: which event moves an order from which status to which, and who may cause it.
// Pure. The store builds its conditional UPDATEs from this table (src/store/orders.ts), so no caller can make a
// move the table does not list; `applyOrderEvent` is the same rule for a status held in memory.
import { ORDER_STATUSES, type OrderStatus } from "../protocol/order-status";

export { ORDER_STATUSES, type OrderStatus };

/** Where every order starts: submit (§9.4) or checkout create (§9.6) inserts it so. */
export const INITIAL_ORDER_STATUS: OrderStatus = "awaiting_confirmation";

export const ORDER_EVENTS = ["confirm", "decline", "expire", "settle", "fail", "review", "operator_refund"] as const;
export type OrderEvent = (typeof ORDER_EVENTS)[number];

/** Who causes a move (§11.1's "By" column). */
export type OrderActor = "user" | "gateway" | "scheduler" | "operator";

export type OrderTransition = { from: OrderStatus; event: OrderEvent; to: OrderStatus; by: readonly OrderActor[] };

/**
 * §11.1's table. The first move (— → awaiting_confirmation, at submit or checkout create) is the insert itself.
 * `settle` is the final proof stored: by the scheduler, a late /transfer/webhook proof, or the operator's
 * `orders resolve <id> paid`; `fail` is the scheduler's refund (deadline passed unpinned, or every path failed);
 * `operator_refund` is `orders resolve <id> refund` after reconciling with the peer.
 */
export const ORDER_TRANSITIONS: readonly OrderTransition[] = [
  { from: "awaiting_confirmation", event: "confirm", to: "confirmed", by: ["user"] },
  { from: "awaiting_confirmation", event: "decline", to: "declined", by: ["user"] },
  { from: "awaiting_confirmation", event: "expire", to: "expired", by: ["gateway"] },
  { from: "confirmed", event: "settle", to: "paid", by: ["scheduler"] },
  { from: "confirmed", event: "fail", to: "failed", by: ["scheduler"] },
  { from: "confirmed", event: "review", to: "in_review", by: ["scheduler"] },
  { from: "in_review", event: "settle", to: "paid", by: ["scheduler", "operator"] },
  { from: "in_review", event: "operator_refund", to: "failed", by: ["operator"] },
];

export class IllegalOrderTransition extends Error {
  constructor(
    readonly from: OrderStatus,
    readonly event: OrderEvent,
  ) {
    super(`order lifecycle: no "${event}" move from ${from}`);
  }
}

/** The status after `event`, or null when §11.1 has no such move. */
export function nextOrderStatus(from: OrderStatus, event: OrderEvent): OrderStatus | null {
  return ORDER_TRANSITIONS.find((t) => t.from === from && t.event === event)?.to ?? null;
}

/** The one apply function: the status after `event`; throws `IllegalOrderTransition` when §11.1 forbids it. */
export function applyOrderEvent(from: OrderStatus, event: OrderEvent): OrderStatus {
  const to = nextOrderStatus(from, event);
  if (to === null) throw new IllegalOrderTransition(from, event);
  return to;
}

/** The statuses an event applies to (what the store's conditional UPDATE requires). */
export const sourcesOf = (event: OrderEvent): OrderStatus[] =>
  ORDER_TRANSITIONS.filter((t) => t.event === event).map((t) => t.from);

/** Every event has exactly one target status (checked by the unit vectors), so a store UPDATE can set it. */
export function targetOf(event: OrderEvent): OrderStatus {
  const targets = new Set(ORDER_TRANSITIONS.filter((t) => t.event === event).map((t) => t.to));
  if (targets.size !== 1)
    throw new Error(`order lifecycle: event "${event}" must have one target, has ${targets.size}`);
  return [...targets][0]!;
}

/** No move leaves these: paid, declined, expired, failed. */
export const isFinalStatus = (s: OrderStatus): boolean => !ORDER_TRANSITIONS.some((t) => t.from === s);

/** The operator settles by hand only what the scheduler must not decide alone (value may have moved): in_review. */
export const canOperatorResolve = (s: OrderStatus): boolean =>
  ORDER_TRANSITIONS.some((t) => t.from === s && t.by.includes("operator"));

/** The user's money has left their balance (into settlement or onward) in these statuses. */
export const CHARGED_STATUSES: readonly OrderStatus[] = ["confirmed", "paid", "in_review"];
export const isCharged = (s: OrderStatus): boolean => CHARGED_STATUSES.includes(s);

/** A merchant's order id in one of these statuses blocks a second order with the same id (§11.2's unique index). */
export const ACTIVE_STATUSES: readonly OrderStatus[] = ["awaiting_confirmation", "confirmed", "in_review", "paid"];

export const isOrderStatus = (s: string): s is OrderStatus => (ORDER_STATUSES as readonly string[]).includes(s);
