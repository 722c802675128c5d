// Issue 16: CSV exports an accountant can use (RFC 4180). Ledger entries: every movement's two rows share a
// timestamp, so any time range sums to zero per currency, and the whole history per account equals its balance.
// Orders: amount, what was refunded and the net, so a refunded order never reads as fully settled.
import type { Gateway } from "../gateway";
import { formatMinor } from "../protocol/money";
import { timeParam } from "./orders";

/** Quoted when it holds a separator, or would start a spreadsheet formula (a plain signed number does not). */
const cell = (v: unknown): string => {
  const s = v === null || v === undefined ? "" : String(v);
  const formula = /^[=+\-@\t]/.test(s) && !/^-?[0-9.]+$/.test(s);
  return /[",\r\n]/.test(s) || formula ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = (header: string[], rows: unknown[][]): string =>
  [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
const MS_PER_SECOND = 1000;
const iso = (t: number | null) => (t === null ? "" : new Date(t * MS_PER_SECOND).toISOString());

function range(q: Record<string, string | undefined>): [number, number] {
  return [timeParam(q.from, "from") ?? 0, timeParam(q.to, "to") ?? Number.MAX_SAFE_INTEGER];
}

const LEDGER_HEADER = [
  "entry_id",
  "movement_id",
  "created_at",
  "account",
  "currency",
  "amount",
  "reason",
  "order_id",
  "ref",
];
const ORDERS_HEADER = [
  "id",
  "order_id",
  "merchant_ocid",
  "user_id",
  "status",
  "currency",
  "amount",
  "refunded",
  "net",
  "settlement_type",
  "settlement_via",
  "txid",
  "received_at",
  "updated_at",
];

export async function ledgerCsv(
  gw: Pick<Gateway, "currencies" | "store">,
  q: Record<string, string | undefined>,
): Promise<string> {
  const [from, to] = range(q);
  const rows = await gw.store.read((tx) => tx.ledger.entries(from, to));
  return csv(
    LEDGER_HEADER,
    rows.map((r) => {
      const amount = formatMinor(r.delta, r.currency, gw.currencies);
      return [r.id, r.movementId, iso(r.createdAt), r.account, r.currency, amount, r.reason, r.orderId, r.ref];
    }),
  );
}

export async function ordersCsv(
  gw: Pick<Gateway, "currencies" | "store">,
  q: Record<string, string | undefined>,
): Promise<string> {
  const [from, to] = range(q);
  const rows = await gw.store.read((tx) => tx.orderQueries.exportRows(from, to));
  return csv(
    ORDERS_HEADER,
    rows.map((o) => {
      const f = (m: bigint) => formatMinor(m, o.currency, gw.currencies);
      const net = o.status === "paid" ? o.amountMinor - o.refundedMinor : 0n;
      return [
        o.id,
        o.orderId,
        o.merchantOcid,
        o.userId,
        o.status,
        o.currency,
        f(o.amountMinor),
        f(o.refundedMinor),
        f(net),
        o.settlementType,
        o.settlementVia,
        o.finalTxid,
        iso(o.receivedAt),
        iso(o.updatedAt),
      ];
    }),
  );
}
