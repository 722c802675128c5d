// §14 webhook deliveries on PostgreSQL (see ../deliveries.ts): the body is stored once and re-sent byte for byte;
// an attempt's row and the delivery's next state are written together, fenced by the lease owner (./jobs.ts says
// why that fence holds across nodes).
import type { SQL } from "bun";
import { DB_NOW, heldBy } from "./claims";
import type { Tx } from "../index";
import { DELIVERY_ID_BYTES, type Attempt, type DeliveryRow } from "../deliveries";
import { randomHex } from "../../protocol/hex";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgDeliveries(sql: SQL): Tx["deliveries"] {
  const logAttempt = (id: string, a: Attempt) =>
    sql`INSERT INTO delivery_attempts (delivery_id, at, http_status, latency_ms, error, result, peer_code, dialect)
        VALUES (${id}, ${a.started}, ${a.httpStatus}, ${a.latency}, ${a.error}, ${a.state}, ${a.peerCode ?? null},
          ${a.dialect ?? null})`;
  const stateAfter = (a: Attempt) => (a.state === "retry" ? "pending" : a.state);
  return {
    async enqueue(d) {
      const id = "dlv_" + randomHex(DELIVERY_ID_BYTES);
      if (d.lease)
        // A lease is on the database's clock, like every claim's (./claims.ts).
        await sql`INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at,
            updated_at, lease_owner, lease_until)
          VALUES (${id}, ${d.orderId}, ${d.target}, ${d.txid}, ${d.body}, 'pending', ${d.now}, ${d.now}, ${d.now},
            ${d.lease.owner}, ${sql.unsafe(DB_NOW)} + ${d.lease.seconds}::bigint)`;
      else
        await sql`INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at,
            updated_at)
          VALUES (${id}, ${d.orderId}, ${d.target}, ${d.txid}, ${d.body}, 'pending', ${d.now}, ${d.now}, ${d.now})`;
      return id;
    },
    byId: async (id) => pgRecordOrNull<DeliveryRow>(await sql`SELECT * FROM deliveries WHERE id = ${id}`),
    list: async (state = null) =>
      pgRecords<DeliveryRow>(
        await sql`SELECT * FROM deliveries WHERE ${state}::text IS NULL OR state = ${state} ORDER BY created_at, id`,
      ),
    async replay(id, now) {
      const r = await sql`UPDATE deliveries SET state = 'pending', next_attempt_at = ${now}, window_start = ${now},
          lease_owner = NULL, lease_until = NULL, updated_at = ${now}
        WHERE id = ${id}`;
      return r.count === 1;
    },
    async recordAttempt(id, owner, a) {
      await logAttempt(id, a);
      const r = await sql`UPDATE deliveries SET state = ${stateAfter(a)}, attempts = ${a.attempts},
          first_attempt_at = COALESCE(first_attempt_at, ${a.started}), window_start = ${a.windowStart},
          next_attempt_at = ${a.nextAt}, last_http_status = ${a.httpStatus}, last_error = ${a.error},
          last_reply = ${a.reply}, lease_owner = NULL, lease_until = NULL, updated_at = ${a.now}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return r.count === 1;
    },
    async recordProofAttempt(id, owner, a) {
      await logAttempt(id, a);
      const r = await sql`UPDATE deliveries SET state = ${stateAfter(a)}, attempts = ${a.attempts},
          first_attempt_at = COALESCE(first_attempt_at, ${a.started}), window_start = ${a.windowStart},
          next_attempt_at = ${a.nextAt}, last_http_status = ${a.httpStatus}, last_error = ${a.error},
          last_reply = ${a.reply}, lease_owner = NULL, lease_until = NULL, updated_at = ${a.now},
          last_peer_code = ${a.peerCode}, last_peer_message = ${a.peerMessage}, body = ${a.body},
          dialect_retried = dialect_retried + ${a.dialectRetried ? 1 : 0}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return r.count === 1;
    },
  };
}
