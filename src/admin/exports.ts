// Issue 16: CSV exports an accountant can use (RFC 4180). Ledger entries: every movement's two rows share a
// timestamp, so any time range sums to zero per currency, and the whole history per account equals its balance.
// Orders: amount, what was refunded and the net, so a refunded order never reads as fully settled.
import type { Gateway } from "../gateway";
import { formatMinor } from "../protocol/money";
import { timeParam } from "./orders";

const cell = (v: unknown): string => {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) || /^[=+\-@\t]/.test(s) && !/^-?[0-9.]+$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = (header: string[], rows: unknown[][]): string => [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
const iso = (t: number | null) => (t === null ? "" : new Date(t * 1000).toISOString());

function range(q: Record<string, string | undefined>): [number, number] {
  return [timeParam(q.from, "from") ?? 0, timeParam(q.to, "to") ?? Number.MAX_SAFE_INTEGER];
}

export function ledgerCsv(gw: Gateway, q: Record<string, string | undefined>): string {
  const [from, to] = range(q);
  const rows = gw.db
    .query<{ id: number; movement_id: string; account: string; currency: string; d: string; reason: string; order_id: number | null; ref: string | null; created_at: number }, [number, number]>(
      `SELECT id, movement_id, account, currency, CAST(delta AS TEXT) AS d, reason, order_id, ref, created_at
       FROM ledger_entries WHERE created_at >= ? AND created_at < ? ORDER BY id`,
    )
    .all(from, to);
  return csv(
    ["entry_id", "movement_id", "created_at", "account", "currency", "amount", "reason", "order_id", "ref"],
    rows.map((r) => [r.id, r.movement_id, iso(r.created_at), r.account, r.currency, formatMinor(BigInt(r.d), r.currency, gw.currencies), r.reason, r.order_id, r.ref]),
  );
}

export function ordersCsv(gw: Gateway, q: Record<string, string | undefined>): string {
  const [from, to] = range(q);
  const rows = gw.db
    .query<
      { id: number; order_id: string; merchant_ocid: number; user_id: string | null; status: string; currency: string; m: string; r: string | null; settlement_type: string | null; settlement_via: number | null; final_txid: string | null; received_at: number; updated_at: number },
      [number, number]
    >(
      `SELECT o.id, o.order_id, o.merchant_ocid, o.user_id, o.status, o.currency, CAST(o.amount_minor AS TEXT) AS m,
         (SELECT CAST(SUM(amount_minor) AS TEXT) FROM refunds WHERE order_id = o.id AND status = 'succeeded') AS r,
         o.settlement_type, o.settlement_via, o.final_txid, o.received_at, o.updated_at
       FROM orders o WHERE o.received_at >= ? AND o.received_at < ? ORDER BY o.id`,
    )
    .all(from, to);
  return csv(
    ["id", "order_id", "merchant_ocid", "user_id", "status", "currency", "amount", "refunded", "net", "settlement_type", "settlement_via", "txid", "received_at", "updated_at"],
    rows.map((o) => {
      const amount = BigInt(o.m);
      const refunded = BigInt(o.r ?? "0");
      const f = (m: bigint) => formatMinor(m, o.currency, gw.currencies);
      const net = o.status === "paid" ? amount - refunded : 0n;
      return [o.id, o.order_id, o.merchant_ocid, o.user_id, o.status, o.currency, f(amount), f(refunded), f(net), o.settlement_type, o.settlement_via, o.final_txid, iso(o.received_at), iso(o.updated_at)];
    }),
  );
}
