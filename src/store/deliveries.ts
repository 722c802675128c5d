// §14 webhook deliveries: the proof body is serialised once at insert and re-sent byte for byte.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";

export type DeliveryState = "pending" | "delivered" | "rejected" | "dead";
export type DeliveryRow = {
  id: string;
  order_id: number | null;
  target_ocid: number;
  txid: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  first_attempt_at: number | null;
  window_start: number | null;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_http_status: number | null;
  last_error: string | null;
  last_reply: string | null;
  /** Issue 12: the merchant's own error code and message from its last answer, and whether the one immediate
   * re-delivery in another signature dialect was used. */
  last_peer_code: string | null;
  last_peer_message: string | null;
  dialect_retried: number;
  created_at: number;
  updated_at: number;
};

export function deliveries(db: Database) {
  const insert = db.query(
    `INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)`,
  );
  const byId = db.query<DeliveryRow, [string]>("SELECT * FROM deliveries WHERE id = ?");
  const list = db.query<DeliveryRow, [string | null]>("SELECT * FROM deliveries WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at, id");
  const replay = db.query(
    "UPDATE deliveries SET state = 'pending', next_attempt_at = ?2, window_start = ?2, lease_owner = NULL, lease_until = NULL, updated_at = ?2 WHERE id = ?1",
  );
  return {
    /** Call inside the transaction that committed the transfer. */
    enqueue(d: { orderId: number | null; target: number; txid: string; body: string; now: number }): string {
      const id = "dlv_" + randomHex(12);
      insert.run(id, d.orderId, d.target, d.txid, d.body, d.now);
      return id;
    },
    byId: (id: string) => byId.get(id),
    list: (state: DeliveryState | null = null) => list.all(state),
    /** Operator replay: pending again now, a fresh 72 h window, the attempt counter keeps counting. */
    replay: (id: string, now: number) => replay.run(id, now).changes === 1,
  };
}
export type Deliveries = ReturnType<typeof deliveries>;
