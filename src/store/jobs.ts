// §12.4 settlement outbox rows. The scheduler (src/settlement) claims and runs them; what a run decides is
// src/domain/settlement-job.ts, what it writes is here. Updates marked "leased" apply only while `owner` holds
// the row's lease and it is still valid at `now` (./leases.ts), so a run that lost its lease writes nothing.
import type { Database } from "bun:sqlite";
import type { Candidate } from "../domain/settlement-job";
import { firstStep } from "../domain/settlement-job";
import { sourcesOf } from "../domain/order-lifecycle";
import { randomHex } from "../protocol/hex";
import { camelAll, camelOrNull, type Camel } from "./records";

export { firstStep };

export type JobState = "pending" | "done" | "failed" | "in_review";

type Row = {
  id: string;
  order_id: number;
  kind: string;
  state: JobState;
  candidates_json: string;
  path_index: number;
  step: string;
  step_data: string;
  pinned: number;
  step_attempts: number;
  attempts: number;
  next_attempt_at: number;
  deadline: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
};
export type JobRow = Camel<Row>;

/** Job ids are 32 random hex digits (§12.3). */
export const JOB_ID_BYTES = 16;

/** Orders a late proof may still pay (§11.1 `settle`), for the webhook's search of waiting jobs (both engines). */
export const PAYABLE = sourcesOf("settle")
  .map((s) => `'${s}'`)
  .join(", ");

export function jobs(db: Database) {
  const insert = db.query(
    `INSERT INTO jobs (id, order_id, kind, state, candidates_json, path_index, step, next_attempt_at, deadline,
       created_at, updated_at)
     VALUES (?1, ?2, 'settle', 'pending', ?3, 0, ?4, ?5, ?6, ?5, ?5)`,
  );
  const byOrder = db.query<Row, [number]>("SELECT * FROM jobs WHERE order_id = ? AND kind = 'settle'");
  const byId = db.query<Row, [string]>("SELECT * FROM jobs WHERE id = ?");
  const advance = db.query(
    `UPDATE jobs SET step = ?3, step_data = ?4, step_attempts = 0, attempts = attempts + 1, pinned = ?5, updated_at = ?6
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?6`,
  );
  const advanceByProof = db.query(
    `UPDATE jobs SET step = ?3, step_data = ?4, step_attempts = 0, pinned = ?5, next_attempt_at = ?6, updated_at = ?6
     WHERE id = ?1 AND step = ?2`,
  );
  const nextPath = db.query(
    `UPDATE jobs SET path_index = ?3, step = ?4, step_data = '{}', step_attempts = 0, attempts = attempts + 1,
       last_error = ?5, updated_at = ?6
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?6`,
  );
  const retryLater = db.query(
    `UPDATE jobs SET step_attempts = step_attempts + 1, attempts = attempts + 1, pinned = ?3, next_attempt_at = ?4,
       last_error = ?5, lease_owner = NULL, lease_until = NULL, updated_at = ?6
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?6`,
  );
  const finish = db.query(
    `UPDATE jobs SET state = ?3, last_error = COALESCE(?4, last_error), lease_owner = NULL, lease_until = NULL,
       updated_at = ?5
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?5`,
  );
  const done = db.query(
    "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ?2 WHERE id = ?1",
  );
  const refundedByOperator = db.query(
    `UPDATE jobs SET state = 'failed', last_error = 'refunded by operator', lease_owner = NULL, updated_at = ?2
     WHERE id = ?1`,
  );
  const release = db.query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?2");
  const waiting = db.query<Row & { oid: number }, [string]>(
    `SELECT j.*, o.id AS oid FROM jobs j JOIN orders o ON o.id = j.order_id
     WHERE j.state IN ('pending', 'in_review') AND o.status IN (${PAYABLE}) AND o.currency = ?`,
  );

  return {
    /** Call inside the confirm transaction: the outbox row commits with the debit or not at all. */
    enqueueSettlement(orderId: number, candidates: Candidate[], now: number, deadline: number): string {
      const id = randomHex(JOB_ID_BYTES);
      insert.run(id, orderId, JSON.stringify(candidates), firstStep(candidates[0]), now, deadline);
      return id;
    },
    byOrder: (orderId: number) => camelOrNull(byOrder.get(orderId)),
    byId: (id: string) => camelOrNull(byId.get(id)),
    /** Leased: the next step of the same path, its data, and whether the job is now pinned. */
    advance: (id: string, owner: string, s: { step: string; stepData: string; pinned: boolean; now: number }) =>
      advance.run(id, owner, s.step, s.stepData, s.pinned ? 1 : 0, s.now).changes === 1,
    /** A proof posted to /transfer/webhook completed the job's current step `from`: due at once, unleased. */
    advanceByProof: (id: string, from: string, s: { step: string; stepData: string; pinned: boolean; now: number }) =>
      advanceByProof.run(id, from, s.step, s.stepData, s.pinned ? 1 : 0, s.now).changes === 1,
    /** Leased: the next candidate, from its first step. */
    nextPath: (id: string, owner: string, p: { index: number; step: string; reason: string; now: number }) =>
      nextPath.run(id, owner, p.index, p.step, p.reason, p.now).changes === 1,
    /** Leased: the same step again at `at`, lease given up. */
    retryLater: (id: string, owner: string, r: { pinned: boolean; at: number; reason: string; now: number }) =>
      retryLater.run(id, owner, r.pinned ? 1 : 0, r.at, r.reason, r.now).changes === 1,
    /** Leased: the job ends (`done`, `failed`, `in_review`), lease given up; `error` null keeps the last one. */
    finish: (id: string, owner: string, state: JobState, error: string | null, now: number) =>
      finish.run(id, owner, state, error, now).changes === 1,
    /** The final proof was applied (by the scheduler, a webhook or the operator): the job is done. */
    markDone: (id: string, now: number) => done.run(id, now).changes === 1,
    refundedByOperator: (id: string, now: number) => refundedByOperator.run(id, now).changes === 1,
    release: (id: string, owner: string) => release.run(id, owner).changes === 1,
    /** Jobs whose order a proof in `currency` could still pay: what /transfer/webhook matches a proof against. */
    waitingForProof: (currency: string) => camelAll(waiting.all(currency)),
  };
}
export type Jobs = ReturnType<typeof jobs>;
