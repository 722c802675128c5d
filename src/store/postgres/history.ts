// §10.2 the wallet's history on PostgreSQL (the SQLite twin: ../history.ts): the same merged page and the same
// opaque keys. printf('%011d…') is lpad(…, 11, '0') here (times below 10^11 s, ids below 10^15, as on SQLite);
// keys compare and sort as bytes (COLLATE "C"), as SQLite's BINARY does; p2p rows are numbered by their rowid.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { HistoryKind } from "../history";
import { CREDIT_REASONS } from "../history";
import { int, intOrNull, moneyOrNull } from "./values";

const key = (at: string, kind: number, id: string) =>
  `lpad(${at}::text, 11, '0') || '${kind}' || lpad(${id}::text, 15, '0')`;

const PAGE = `SELECT * FROM (
  SELECT ${key("received_at", 1, "id")} AS k, 'payment' AS kind, id, received_at AS at, session_id, order_id,
         merchant_ocid, amount, amount_minor::text AS minor, currency, status, final_txid AS txid, updated_at,
         NULL::text AS reason, NULL::text AS ref,
         (SELECT SUM(amount_minor)::text FROM refunds
           WHERE order_id = orders.id AND status = 'succeeded') AS refunded
    FROM orders WHERE user_id = $1
  UNION ALL
  SELECT ${key("created_at", 0, "id")}, 'credit', id, created_at, NULL, NULL, NULL, NULL, delta::text,
         currency, NULL, NULL, created_at, reason, ref, NULL
    FROM ledger_entries WHERE account = $2 AND delta > 0 AND reason = ANY($5::text[])
  UNION ALL
  SELECT ${key("created_at", 2, "rowid")}, 'sent', rowid, created_at, NULL, NULL, NULL, amount, NULL, currency,
         status, txid, updated_at, NULL, id, NULL
    FROM p2p_transfers WHERE user_id = $1
  UNION ALL
  SELECT ${key("created_at", 3, "rowid")}, 'received', rowid, created_at, NULL, NULL, NULL, amount, NULL,
         currency, status, txid, updated_at, NULL, id, NULL
    FROM p2p_transfers WHERE to_user_id = $1 AND status = 'paid'
) lines WHERE k COLLATE "C" < $3 ORDER BY k COLLATE "C" DESC LIMIT $4`;

export function pgHistory(sql: SQL): Tx["history"] {
  return {
    async page(userId, account, before, limit) {
      const rows = await sql.unsafe(PAGE, [userId, account, before, limit, [...CREDIT_REASONS]]);
      return rows.map((r: Record<string, unknown>) => ({
        key: r.k as string,
        kind: r.kind as HistoryKind,
        id: int(r.id),
        at: int(r.at),
        sessionId: r.session_id as string | null,
        orderId: r.order_id as string | null,
        merchantOcid: intOrNull(r.merchant_ocid),
        amount: r.amount as string | null,
        minor: moneyOrNull(r.minor),
        currency: r.currency as string,
        status: r.status as string | null,
        txid: r.txid as string | null,
        updatedAt: int(r.updated_at),
        reason: r.reason as string | null,
        ref: r.ref as string | null,
        refunded: moneyOrNull(r.refunded),
      }));
    },
    async issuedProof(txid) {
      const [r] = await sql`SELECT proof_json FROM issued_proofs WHERE txid = ${txid}`;
      return r ? (r.proof_json as string) : null;
    },
    async receivedProof(issuer, txid) {
      const [r] = await sql`SELECT proof_json FROM received_proofs WHERE issuer = ${issuer} AND txid = ${txid}`;
      return r ? (r.proof_json as string) : null;
    },
  };
}
