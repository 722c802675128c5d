// §11.1 order statuses, once: the values the merchant reads from GET /orders/{id}/status (§9.5), the wallet API,
// the CLI, the metrics and the orders table's CHECK constraint use. Which event moves an order from one status to
// another is the domain's rule (src/domain/order-lifecycle.ts); the list is here because it is on the wire.
export const ORDER_STATUSES = [
  "awaiting_confirmation",
  "confirmed",
  "paid",
  "declined",
  "expired",
  "failed",
  "in_review",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
