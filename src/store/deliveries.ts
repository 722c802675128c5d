// §14 webhook deliveries: the proof body is serialised once at insert and re-sent byte for byte.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { camelAll, camelOrNull, type Camel } from "./records";

export type DeliveryState = "pending" | "delivered" | "rejected" | "dead";
/** A delivery's row (`kind` and `endpoint_id` of event deliveries are read by ./delivery-queries.ts). */
export type DeliveryColumns = {
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
export type DeliveryRow = Camel<DeliveryColumns>;

/** One delivery attempt as recorded: its row in delivery_attempts and the delivery's state after it. */
export type Attempt = {
  started: number;
  state: "delivered" | "rejected" | "retry" | "dead";
  attempts: number;
  windowStart: number;
  nextAt: number;
  httpStatus: number | null;
  latency: number | null;
  error: string | null;
  reply: string | null;
  now: number;
  peerCode?: string | null;
  /** `<encoding>/<hash>` the request was signed in (proof deliveries). */
  dialect?: string | null;
};
export type ProofAttempt = Attempt & {
  peerCode: string | null;
  peerMessage: string | null;
  body: string;
  /** This attempt used the one immediate re-delivery in another dialect. */
  dialectRetried: boolean;
};

export type NewDelivery = {
  orderId: number | null;
  target: number;
  txid: string;
  body: string;
  now: number;
  lease?: { owner: string; seconds: number };
};

/** Delivery ids are `dlv_` + 24 hex digits. */
export const DELIVERY_ID_BYTES = 12;

export function deliveries(db: Database) {
  const insert = db.query(
    `INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6)`,
  );
  const insertLeased = db.query(
    `INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at, updated_at,
       lease_owner, lease_until)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6, ?7, ?6 + ?8)`,
  );
  const byId = db.query<DeliveryColumns, [string]>("SELECT * FROM deliveries WHERE id = ?");
  const list = db.query<DeliveryColumns, [string | null]>(
    "SELECT * FROM deliveries WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at, id",
  );
  const replay = db.query(
    `UPDATE deliveries SET state = 'pending', next_attempt_at = ?2, window_start = ?2, lease_owner = NULL,
       lease_until = NULL, updated_at = ?2
     WHERE id = ?1`,
  );
  const attempt = db.query(
    `INSERT INTO delivery_attempts (delivery_id, at, http_status, latency_ms, error, result, peer_code, dialect)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const afterAttempt = db.query(
    `UPDATE deliveries SET state = ?3, attempts = ?4, first_attempt_at = COALESCE(first_attempt_at, ?5),
       window_start = ?6, next_attempt_at = ?7, last_http_status = ?8, last_error = ?9, last_reply = ?10,
       lease_owner = NULL, lease_until = NULL, updated_at = ?11
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?11`,
  );
  const afterProofAttempt = db.query(
    `UPDATE deliveries SET state = ?3, attempts = ?4, first_attempt_at = COALESCE(first_attempt_at, ?5),
       window_start = ?6, next_attempt_at = ?7, last_http_status = ?8, last_error = ?9, last_reply = ?10,
       lease_owner = NULL, lease_until = NULL, updated_at = ?11,
       last_peer_code = ?12, last_peer_message = ?13, body = ?14, dialect_retried = dialect_retried + ?15
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?11`,
  );

  const record = (id: string, owner: string, a: Attempt) => {
    attempt.run(id, a.started, a.httpStatus, a.latency, a.error, a.state, a.peerCode ?? null, a.dialect ?? null);
    const state = a.state === "retry" ? "pending" : a.state;
    const { attempts, started, windowStart, nextAt, httpStatus, error, reply, now } = a;
    return [id, owner, state, attempts, started, windowStart, nextAt, httpStatus, error, reply, now] as const;
  };

  return {
    /**
     * Call inside the transaction that committed the transfer. `lease`: the row is queued already leased to that
     * owner for that long (a scheduler's settlement run handing the delivery to its own scheduler: leases.claim).
     */
    enqueue(d: NewDelivery): string {
      const id = "dlv_" + randomHex(DELIVERY_ID_BYTES);
      if (d.lease) insertLeased.run(id, d.orderId, d.target, d.txid, d.body, d.now, d.lease.owner, d.lease.seconds);
      else insert.run(id, d.orderId, d.target, d.txid, d.body, d.now);
      return id;
    },
    byId: (id: string) => camelOrNull(byId.get(id)),
    list: (state: DeliveryState | null = null) => camelAll(list.all(state)),
    /** Operator replay: pending again now, a fresh 72 h window, the attempt counter keeps counting. */
    replay: (id: string, now: number) => replay.run(id, now).changes === 1,
    /** Leased: one attempt's row and the delivery's next state (an operator event endpoint's delivery). */
    recordAttempt: (id: string, owner: string, a: Attempt): boolean =>
      afterAttempt.run(...record(id, owner, a)).changes === 1,
    /** Leased: as `recordAttempt`, plus the merchant's own answer and the body (re-signed in another dialect). */
    recordProofAttempt: (id: string, owner: string, a: ProofAttempt): boolean =>
      afterProofAttempt.run(...record(id, owner, a), a.peerCode, a.peerMessage, a.body, a.dialectRetried ? 1 : 0)
        .changes === 1,
  };
}
export type Deliveries = ReturnType<typeof deliveries>;
