// What the operator, the CLI and the exports read about orders (the order lifecycle's writes live in ./orders.ts).
import type { Database, SQLQueryBindings } from "bun:sqlite";

/** Admin API filter; every field already validated by the caller. `from`/`to`: received_at in [from, to). */
export type OrderSearch = { status?: string; merchant?: number; userId?: string; from?: number; to?: number };

export type OrderLine = {
  id: number;
  orderId: string;
  merchantOcid: number;
  amount: string;
  currency: string;
  status: string;
  settlementType: string | null;
  updatedAt: number;
};

export type OrderExportRow = {
  id: number;
  orderId: string;
  merchantOcid: number;
  userId: string | null;
  status: string;
  currency: string;
  amountMinor: bigint;
  refundedMinor: bigint;
  settlementType: string | null;
  settlementVia: number | null;
  finalTxid: string | null;
  receivedAt: number;
  updatedAt: number;
};

/** The filter's columns, in one place: the SQL for a field is never built from its value. */
const SEARCH_COLUMNS: { [K in keyof OrderSearch]-?: string } = {
  status: "status = ?",
  merchant: "merchant_ocid = ?",
  userId: "user_id = ?",
  from: "received_at >= ?",
  to: "received_at < ?",
};

export function orderQueries(db: Database) {
  const lines = db.query<
    {
      id: number;
      order_id: string;
      merchant_ocid: number;
      amount: string;
      currency: string;
      status: string;
      settlement_type: string | null;
      updated_at: number;
    },
    [string | null, number]
  >(
    `SELECT id, order_id, merchant_ocid, amount, currency, status, settlement_type, updated_at FROM orders
     WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2`,
  );
  const latestPaid = db.query<{ id: number }, [number, string]>(
    "SELECT id FROM orders WHERE merchant_ocid = ? AND order_id = ? AND status = 'paid' ORDER BY id DESC LIMIT 1",
  );
  const exported = db.query<
    {
      id: number;
      order_id: string;
      merchant_ocid: number;
      user_id: string | null;
      status: string;
      currency: string;
      m: string;
      r: string | null;
      settlement_type: string | null;
      settlement_via: number | null;
      final_txid: string | null;
      received_at: number;
      updated_at: number;
    },
    [number, number]
  >(
    `SELECT o.id, o.order_id, o.merchant_ocid, o.user_id, o.status, o.currency, CAST(o.amount_minor AS TEXT) AS m,
       (SELECT CAST(SUM(amount_minor) AS TEXT) FROM refunds WHERE order_id = o.id AND status = 'succeeded') AS r,
       o.settlement_type, o.settlement_via, o.final_txid, o.received_at, o.updated_at
     FROM orders o WHERE o.received_at >= ? AND o.received_at < ? ORDER BY o.id`,
  );
  return {
    /** Order row ids matching `f`, newest first, below `before` (exclusive). */
    search(f: OrderSearch, before: number, limit: number): number[] {
      const keys = (Object.keys(SEARCH_COLUMNS) as (keyof OrderSearch)[]).filter((k) => f[k] !== undefined);
      const where = keys.length ? keys.map((k) => SEARCH_COLUMNS[k]).join(" AND ") : "1";
      const args: SQLQueryBindings[] = keys.map((k) => f[k]!);
      const sql = `SELECT id FROM orders WHERE ${where} AND id < ? ORDER BY id DESC LIMIT ?`;
      return db
        .query<{ id: number }, SQLQueryBindings[]>(sql)
        .all(...args, before, limit)
        .map((r) => r.id);
    },
    /** The CLI's `orders list`: newest first, optionally of one status. */
    lines: (status: string | null, limit: number): OrderLine[] =>
      lines.all(status, limit).map((r) => ({
        id: r.id,
        orderId: r.order_id,
        merchantOcid: r.merchant_ocid,
        amount: r.amount,
        currency: r.currency,
        status: r.status,
        settlementType: r.settlement_type,
        updatedAt: r.updated_at,
      })),
    /** A merchant's newest paid order with its own order id (a refund by /transfer/create names it). */
    latestPaidOfMerchant: (merchantOcid: number, orderId: string): number | null =>
      latestPaid.get(merchantOcid, orderId)?.id ?? null,
    /** Orders received in [from, to) with what was refunded, for the accountant's CSV. */
    exportRows: (from: number, to: number): OrderExportRow[] =>
      exported.all(from, to).map((o) => ({
        id: o.id,
        orderId: o.order_id,
        merchantOcid: o.merchant_ocid,
        userId: o.user_id,
        status: o.status,
        currency: o.currency,
        amountMinor: BigInt(o.m),
        refundedMinor: BigInt(o.r ?? "0"),
        settlementType: o.settlement_type,
        settlementVia: o.settlement_via,
        finalTxid: o.final_txid,
        receivedAt: o.received_at,
        updatedAt: o.updated_at,
      })),
  };
}
