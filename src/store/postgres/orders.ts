// §11.2 orders on PostgreSQL (see ../orders.ts), with the same lifecycle-derived SET/WHERE fragments, so a status
// move is one conditional UPDATE on both engines: two nodes confirming one order race on its row lock, and the
// loser's WHERE is re-checked against the winner's committed version (READ COMMITTED), so exactly one succeeds.
import type { SQL } from "bun";
import type { Tx } from "../index";
import {
  fromStatus,
  ORDER_MONEY,
  quoted,
  setStatus,
  type ExpiredOrder,
  type OrderMove,
  type OrderRecord,
} from "../orders";
import { INITIAL_ORDER_STATUS } from "../../domain/order-lifecycle";
import { pgRecordOrNull, pgRecords, type PgRow } from "./rows";

const record = (rows: PgRow[]): OrderRecord | null => pgRecordOrNull<OrderRecord>(rows, ORDER_MONEY);

const CONFIRM = `UPDATE orders SET ${setStatus("confirm")}, user_id = $2, confirmed_at = $3, updated_at = $3
  WHERE id = $1 AND ${fromStatus("confirm")} AND confirm_deadline >= $3 AND (user_id = $2 OR user_id IS NULL)`;
const DECLINE = `UPDATE orders SET ${setStatus("decline")}, user_id = COALESCE(user_id, $2), updated_at = $3
  WHERE id = $1 AND ${fromStatus("decline")} AND (user_id = $2 OR user_id IS NULL)`;
const EXPIRE_ONE = `UPDATE orders SET ${setStatus("expire")}, updated_at = $2
  WHERE id = $1 AND ${fromStatus("expire")} AND confirm_deadline < $2`;
const SETTLE = `UPDATE orders SET ${setStatus("settle")}, final_proof_json = $2, final_signature = $3, final_txid = $4,
    updated_at = $5
  WHERE id = $1 AND ${fromStatus("settle")}`;
const statusOnly = (event: "fail" | "review" | "operator_refund") =>
  `UPDATE orders SET ${setStatus(event)}, updated_at = $2 WHERE id = $1 AND ${fromStatus(event)}`;
const EXPIRE_DUE = `UPDATE orders SET ${setStatus("expire")}, updated_at = $1
  WHERE ${fromStatus("expire")} AND confirm_deadline < $1 RETURNING id, user_id, session_id`;
const AWAITING = `SELECT * FROM orders WHERE user_id = $1 AND status = ${quoted(INITIAL_ORDER_STATUS)}
  AND confirm_deadline >= $2 ORDER BY received_at, id`;

/** The statement and parameters of one §11.1 move. */
function moveStatement(id: number, m: OrderMove, now: number): [string, unknown[]] {
  switch (m.event) {
    case "confirm":
      return [CONFIRM, [id, m.userId, now]];
    case "decline":
      return [DECLINE, [id, m.userId, now]];
    case "expire":
      return [EXPIRE_ONE, [id, now]];
    case "settle":
      return [SETTLE, [id, m.proofJson, m.signature, m.txid, now]];
    case "fail":
    case "review":
    case "operator_refund":
      return [statusOnly(m.event), [id, now]];
  }
}

export function pgOrders(sql: SQL): Tx["orders"] {
  return {
    async insert(o) {
      const [r] = await sql.unsafe(
        `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form,
           urls_json, amount, amount_minor, currency, user_id, status, confirm_deadline, candidates_json,
           settlement_type, settlement_via, received_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, ${quoted(INITIAL_ORDER_STATUS)}, $13, $14, $15,
           $16, $17, $17)
         RETURNING id`,
        [
          o.sessionId,
          o.callerOcid,
          o.merchantOcid,
          o.orderId,
          o.orderJson,
          o.signature,
          o.sigForm,
          o.urlsJson,
          o.amount,
          o.amountMinor,
          o.currency,
          o.userId,
          o.confirmDeadline,
          JSON.stringify(o.candidates),
          o.settlementType ?? null,
          o.settlementVia ?? null,
          o.now,
        ],
      );
      return Number(r.id);
    },
    bySession: async (sessionId) =>
      record(await sql`SELECT * FROM orders WHERE session_id = ${sessionId} ORDER BY id DESC LIMIT 1`),
    byId: async (id) => record(await sql`SELECT * FROM orders WHERE id = ${id}`),
    latestForCaller: async (callerOcid, orderId) =>
      record(
        await sql`SELECT * FROM orders WHERE caller_ocid = ${callerOcid} AND order_id = ${orderId}
                  ORDER BY received_at DESC, id DESC LIMIT 1`,
      ),
    async move(id, m, now) {
      const [text, params] = moveStatement(id, m, now);
      return (await sql.unsafe(text, params)).count === 1;
    },
    expireDue: async (now) => pgRecords<ExpiredOrder>(await sql.unsafe(EXPIRE_DUE, [now])),
    awaitingForUser: async (userId, now) =>
      pgRecords<OrderRecord>(await sql.unsafe(AWAITING, [userId, now]), ORDER_MONEY),
    async setSettlement(id, type, via, now) {
      const r = await sql`UPDATE orders SET settlement_type = ${type}, settlement_via = ${via}, updated_at = ${now}
        WHERE id = ${id}`;
      return { changes: r.count, lastInsertRowid: 0 };
    },
  };
}
