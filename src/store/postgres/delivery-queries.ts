// What the operator and the merchant read about deliveries, on PostgreSQL (the SQLite twin:
// ../delivery-queries.ts). `rid` is SQLite's rowid there and the deliveries table's `rowid` identity column here.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { DeliveryListed } from "../delivery-queries";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgDeliveryQueries(sql: SQL): Tx["deliveryQueries"] {
  const columns = sql`rowid AS rid, id, order_id, target_ocid, txid, body, state, attempts, first_attempt_at,
    window_start, next_attempt_at, lease_owner, lease_until, last_http_status, last_error, last_reply, created_at,
    updated_at, last_peer_code, last_peer_message, dialect_retried, kind, endpoint_id`;
  return {
    async ofOrder(orderId) {
      const rows = await sql`SELECT ${columns} FROM deliveries WHERE order_id = ${orderId}
        ORDER BY created_at, id COLLATE "C"`;
      return pgRecords<DeliveryListed>(rows);
    },
    async latestOfOrder(orderId) {
      // SQLite breaks a tie of created_at by its scan order (rowid): the same tie-break, explicit.
      return pgRecordOrNull<{ state: string; attempts: number }>(
        await sql`SELECT state, attempts FROM deliveries WHERE order_id = ${orderId}
          ORDER BY created_at DESC, rowid LIMIT 1`,
      );
    },
    async page(state, after, limit) {
      const rows = await sql`SELECT ${columns} FROM deliveries
        WHERE (${state}::text IS NULL OR state = ${state}) AND rowid > ${after} ORDER BY rowid LIMIT ${limit}`;
      return pgRecords<DeliveryListed>(rows);
    },
  };
}
