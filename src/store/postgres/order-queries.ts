// What the operator, the CLI and the exports read about orders, on PostgreSQL (the SQLite twin:
// ../order-queries.ts).
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { OrderSearch } from "../order-queries";
import { int, intOrNull, money } from "./values";

/** The filter's columns, in one place: the SQL for a field is never built from its value. */
const SEARCH_COLUMNS: { [K in keyof OrderSearch]-?: string } = {
  status: "status = $",
  merchant: "merchant_ocid = $",
  userId: "user_id = $",
  from: "received_at >= $",
  to: "received_at < $",
};

export function pgOrderQueries(sql: SQL): Tx["orderQueries"] {
  return {
    async search(f, before, limit) {
      const keys = (Object.keys(SEARCH_COLUMNS) as (keyof OrderSearch)[]).filter((k) => f[k] !== undefined);
      const terms = keys.map((k, i) => SEARCH_COLUMNS[k] + (i + 1));
      const args: unknown[] = keys.map((k) => f[k]);
      const n = args.length;
      const text = `SELECT id FROM orders WHERE ${[...terms, `id < $${n + 1}`].join(" AND ")}
        ORDER BY id DESC LIMIT $${n + 2}`;
      const rows = await sql.unsafe(text, [...args, before, limit]);
      return rows.map((r: { id: unknown }) => int(r.id));
    },
    async lines(status, limit) {
      const rows = await sql`SELECT id, order_id, merchant_ocid, amount, currency, status, settlement_type, updated_at
        FROM orders WHERE ${status}::text IS NULL OR status = ${status} ORDER BY id DESC LIMIT ${limit}`;
      return rows.map((r: Record<string, unknown>) => ({
        id: int(r.id),
        orderId: r.order_id as string,
        merchantOcid: int(r.merchant_ocid),
        amount: r.amount as string,
        currency: r.currency as string,
        status: r.status as string,
        settlementType: r.settlement_type as string | null,
        updatedAt: int(r.updated_at),
      }));
    },
    async latestPaidOfMerchant(merchantOcid, orderId) {
      const [r] = await sql`SELECT id FROM orders WHERE merchant_ocid = ${merchantOcid} AND order_id = ${orderId}
        AND status = 'paid' ORDER BY id DESC LIMIT 1`;
      return r ? int(r.id) : null;
    },
    async exportRows(from, to) {
      const rows = await sql`SELECT o.id, o.order_id, o.merchant_ocid, o.user_id, o.status, o.currency,
          o.amount_minor::text AS m,
          (SELECT SUM(amount_minor)::text FROM refunds WHERE order_id = o.id AND status = 'succeeded') AS r,
          o.settlement_type, o.settlement_via, o.final_txid, o.received_at, o.updated_at
        FROM orders o WHERE o.received_at >= ${from} AND o.received_at < ${to} ORDER BY o.id`;
      return rows.map((o: Record<string, unknown>) => ({
        id: int(o.id),
        orderId: o.order_id as string,
        merchantOcid: int(o.merchant_ocid),
        userId: o.user_id as string | null,
        status: o.status as string,
        currency: o.currency as string,
        amountMinor: money(o.m),
        refundedMinor: o.r === null ? 0n : money(o.r),
        settlementType: o.settlement_type as string | null,
        settlementVia: intOrNull(o.settlement_via),
        finalTxid: o.final_txid as string | null,
        receivedAt: int(o.received_at),
        updatedAt: int(o.updated_at),
      }));
    },
  };
}
