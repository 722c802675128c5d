// §10.2 the wallet's history: payments, credits and person-to-person transfers of one user, newest first.
import type { Database } from "bun:sqlite";

export type HistoryKind = "payment" | "credit" | "sent" | "received";

/** One line of the merged history; `key` orders the page (time, then kind, then id) and is the opaque cursor. */
export type HistoryRow = {
  key: string;
  kind: HistoryKind;
  id: number;
  at: number;
  sessionId: string | null;
  orderId: string | null;
  merchantOcid: number | null;
  amount: string | null;
  minor: bigint | null;
  currency: string;
  status: string | null;
  txid: string | null;
  updatedAt: number;
  reason: string | null;
  ref: string | null;
  refunded: bigint | null;
};

type Row = {
  k: string;
  kind: HistoryKind;
  id: number;
  at: number;
  session_id: string | null;
  order_id: string | null;
  merchant_ocid: number | null;
  amount: string | null;
  minor: string | null;
  currency: string;
  status: string | null;
  txid: string | null;
  updated_at: number;
  reason: string | null;
  ref: string | null;
  refunded: string | null;
};

/** Ledger reasons that are a credit the user sees (money arriving from outside or from the operator). */
export const CREDIT_REASONS = ["funding", "webhook_credit", "transfer_in", "topup"] as const;
const CREDIT_LIST = CREDIT_REASONS.map((r) => `'${r}'`).join(", ");

const PAGE = `SELECT * FROM (
  SELECT printf('%011d1%015d', received_at, id) AS k, 'payment' AS kind, id, received_at AS at, session_id, order_id,
         merchant_ocid, amount, CAST(amount_minor AS TEXT) AS minor, currency, status, final_txid AS txid, updated_at,
         NULL AS reason, NULL AS ref,
         (SELECT CAST(SUM(amount_minor) AS TEXT) FROM refunds
           WHERE order_id = orders.id AND status = 'succeeded') AS refunded
    FROM orders WHERE user_id = ?1
  UNION ALL
  SELECT printf('%011d0%015d', created_at, id), 'credit', id, created_at, NULL, NULL, NULL, NULL, CAST(delta AS TEXT),
         currency, NULL, NULL, created_at, reason, ref, NULL
    FROM ledger_entries WHERE account = ?2 AND delta > 0 AND reason IN (${CREDIT_LIST})
  UNION ALL
  SELECT printf('%011d2%015d', created_at, rowid), 'sent', rowid, created_at, NULL, NULL, NULL, amount, NULL, currency,
         status, txid, updated_at, NULL, id, NULL
    FROM p2p_transfers WHERE user_id = ?1
  UNION ALL
  SELECT printf('%011d3%015d', created_at, rowid), 'received', rowid, created_at, NULL, NULL, NULL, amount, NULL,
         currency, status, txid, updated_at, NULL, id, NULL
    FROM p2p_transfers WHERE to_user_id = ?1 AND status = 'paid'
) WHERE k < ?3 ORDER BY k DESC LIMIT ?4`;

const big = (s: string | null): bigint | null => (s === null ? null : BigInt(s));

export function history(db: Database) {
  const page = db.query<Row, [string, string, string, number]>(PAGE);
  const issued = db.query<{ proof_json: string }, [string]>("SELECT proof_json FROM issued_proofs WHERE txid = ?");
  const received = db.query<{ proof_json: string }, [number, string]>(
    "SELECT proof_json FROM received_proofs WHERE issuer = ? AND txid = ?",
  );
  return {
    /** Up to `limit` lines of `userId` (whose ledger account is `account`) with a key below `before`. */
    page: (userId: string, account: string, before: string, limit: number): HistoryRow[] =>
      page.all(userId, account, before, limit).map((r) => ({
        key: r.k,
        kind: r.kind,
        id: r.id,
        at: r.at,
        sessionId: r.session_id,
        orderId: r.order_id,
        merchantOcid: r.merchant_ocid,
        amount: r.amount,
        minor: big(r.minor),
        currency: r.currency,
        status: r.status,
        txid: r.txid,
        updatedAt: r.updated_at,
        reason: r.reason,
        ref: r.ref,
        refunded: big(r.refunded),
      })),
    /** A proof this gateway issued (where an inbound /transfer/create credit came from). */
    issuedProof: (txid: string): string | null => issued.get(txid)?.proof_json ?? null,
    /** A proof a peer issued to us (where a webhook credit came from). */
    receivedProof: (issuer: number, txid: string): string | null => received.get(issuer, txid)?.proof_json ?? null,
  };
}
