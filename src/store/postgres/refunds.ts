// Issue 16 refunds on PostgreSQL (the SQLite twin: ../refunds.ts). The cap (pending + succeeded never above what
// was paid) is checked by the caller against `totals` and then inserted; SQLite's single writer makes that one
// decision. Here `totals` and `insert` take the order's refund lock (held to commit), so a second refund of the
// same order waits for the first to commit and then sums it; refunds of different orders never wait on each other.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { REFUND_MONEY, type RefundRow } from "../refunds";
import { randomHex } from "../../protocol/hex";
import { LOCK_CLASS, money } from "./values";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgRefunds(sql: SQL): Tx["refunds"] {
  /** Order ids are BIGINT; the lock key is an int4, so ids share keys modulo 2^31 - 1 (a wait, never a wrong sum). */
  const lockOrder = (orderId: number) =>
    sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS.refunds}, (${orderId}::bigint % 2147483647)::int)`;
  const columns = sql`r.id, r.order_id, r.amount, r.amount_minor, r.currency, r.status, r.method, r.issuer, r.txid,
    r.proof_json, r.signature, r.created_by, r.created_at, r.completed_at`;
  return {
    async insert(r) {
      await lockOrder(r.orderId);
      const id = "rf_" + randomHex(12);
      await sql`INSERT INTO refunds (id, order_id, amount, amount_minor, currency, status, method, issuer, txid,
          proof_json, signature, created_by, created_at, completed_at)
        VALUES (${id}, ${r.orderId}, ${r.amount}, ${r.minor}, ${r.currency}, ${r.status}, ${r.method},
          ${r.issuer ?? null}, ${r.txid ?? null}, ${r.proofJson ?? null}, ${r.signature ?? null}, ${r.createdBy},
          ${r.now}, ${r.status === "succeeded" ? r.now : null})`;
      return id;
    },
    async byOrder(orderId) {
      const rows = await sql`SELECT ${columns} FROM refunds r WHERE r.order_id = ${orderId}
        ORDER BY r.created_at, r.rowid`;
      return pgRecords<RefundRow>(rows, REFUND_MONEY);
    },
    byId: async (id) =>
      pgRecordOrNull<RefundRow>(await sql`SELECT ${columns} FROM refunds r WHERE r.id = ${id}`, REFUND_MONEY),
    async totals(orderId) {
      await lockOrder(orderId);
      const [r] = await sql`SELECT
          SUM(CASE WHEN status IN ('pending', 'succeeded') THEN amount_minor END)::text AS committed,
          SUM(CASE WHEN status = 'succeeded' THEN amount_minor END)::text AS succeeded
        FROM refunds WHERE order_id = ${orderId}`;
      return {
        committed: r.committed === null ? 0n : money(r.committed),
        succeeded: r.succeeded === null ? 0n : money(r.succeeded),
      };
    },
    async pendingMatching(currency, minor) {
      const rows = await sql`SELECT ${columns}, o.user_id, o.settlement_via
        FROM refunds r JOIN orders o ON o.id = r.order_id
        WHERE r.status = 'pending' AND r.currency = ${currency} AND r.amount_minor = ${minor}
        ORDER BY r.created_at, r.rowid`;
      return pgRecords<RefundRow & { userId: string; settlementVia: number | null }>(rows, REFUND_MONEY);
    },
    async complete(id, issuer, txid, proofJson, signature, now) {
      const rows = await sql`UPDATE refunds SET status = 'succeeded', issuer = ${issuer}, txid = ${txid},
          proof_json = ${proofJson}, signature = ${signature}, completed_at = ${now}
        WHERE id = ${id} AND status = 'pending' RETURNING 1`;
      return rows.length === 1;
    },
  };
}
