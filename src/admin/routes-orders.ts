// Issue 16: /admin/orders*, /admin/deliveries*, /admin/ledger* and the CSV exports.
import type { AdminRoute } from "./route";
import { answer, paged, pageParams } from "./route";
import * as S from "./schemas";
import {
  adminResolve,
  deliveryItem,
  ledgerBalances,
  listDeliveries,
  listOrders,
  orderDetail,
  orderItem,
  replayDelivery,
} from "./orders";
import { ledgerCsv, ordersCsv } from "./exports";
import { refundOrder } from "../flows/refunds";
import { ProtocolError } from "../protocol/errors";

const orderId = (s: string | undefined): number => {
  if (!s || !/^[1-9][0-9]{0,15}$/.test(s)) throw new ProtocolError("ORDER_NOT_FOUND");
  return Number(s);
};
const csvResponse = (name: string, body: string) =>
  new Response(body, {
    headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"` },
  });

export const ORDER_ROUTES: AdminRoute[] = [
  {
    method: "GET",
    path: "/orders",
    scope: "orders:read",
    summary: "List orders, newest first; filter by status, merchant, user and time",
    query: S.OrdersQuery,
    response: S.Page(S.OrderItem),
    handle: (gw, c) => {
      const { limit, cursor } = pageParams(c.query, Number.MAX_SAFE_INTEGER);
      return gw.store.read(async (tx) => {
        const page = paged(
          await listOrders(tx, c.query, cursor, limit + 1),
          limit,
          (o) => o.id,
          (o) => o,
        );
        const items = [];
        for (const o of page.items) items.push(await orderItem(gw, tx, o));
        return { ...page, items };
      });
    },
  },
  {
    method: "GET",
    path: "/orders/:id",
    scope: "orders:read",
    summary: "One order with its settlement job, final proof, deliveries, anomalies and refunds",
    response: S.OrderDetail,
    handle: (gw, c) => orderDetail(gw, orderId(c.params.id)),
  },
  {
    method: "POST",
    path: "/orders/:id/resolve",
    scope: "orders:write",
    summary: "Resolve an in_review order: `paid` with the peer's proof, or `refund` to the user",
    body: S.ResolveBody,
    response: S.ResolveResult,
    handle: (gw, c) => adminResolve(gw, c.key.name, orderId(c.params.id), c.body.action, c.body.proof),
  },
  {
    method: "POST",
    path: "/orders/:id/refunds",
    scope: "refunds:write",
    summary: "Refund a paid order, fully or in part (several refunds never exceed what was paid)",
    body: S.RefundBody,
    status: 201,
    response: S.RefundEnvelope,
    handle: async (gw, c) =>
      answer({ status: 201, body: await refundOrder(gw, c.key.name, orderId(c.params.id), c.body?.amount) }),
  },
  {
    method: "GET",
    path: "/deliveries",
    scope: "deliveries:read",
    summary: "Webhook deliveries (proofs and events) in creation order",
    query: S.DeliveriesQuery,
    response: S.Page(S.DeliveryItem),
    handle: async (gw, c) => {
      const { limit, cursor } = pageParams(c.query, 0);
      return paged(await listDeliveries(gw, c.query.state, cursor, limit + 1), limit, (d) => d.rid, deliveryItem);
    },
  },
  {
    method: "POST",
    path: "/deliveries/:id/replay",
    scope: "deliveries:write",
    summary: "Replay a delivery: pending again now, with a fresh retry window",
    response: S.DeliveryEnvelope,
    handle: (gw, c) => replayDelivery(gw, c.key.name, c.params.id!),
  },
  {
    method: "GET",
    path: "/ledger/balances",
    scope: "ledger:read",
    summary: "Account balances and the ledger invariant check",
    query: S.BalancesQuery,
    response: S.Balances,
    handle: (gw, c) => ledgerBalances(gw, c.query.account),
  },
  {
    method: "GET",
    path: "/exports/ledger.csv",
    scope: "ledger:read",
    summary: "Ledger entries for a time range as CSV (rows sum to zero per currency)",
    query: S.RangeQuery,
    response: "csv",
    handle: async (gw, c) => csvResponse("ledger.csv", await ledgerCsv(gw, c.query)),
  },
  {
    method: "GET",
    path: "/exports/orders.csv",
    scope: "orders:read",
    summary: "Orders received in a time range as CSV, with refunded and net amounts",
    query: S.RangeQuery,
    response: "csv",
    handle: async (gw, c) => csvResponse("orders.csv", await ordersCsv(gw, c.query)),
  },
];
