// §12.4 settlement jobs on PostgreSQL (see ../jobs.ts). Claims are in ./leases.ts (FOR UPDATE SKIP LOCKED, leases
// on the database clock). Every "leased" write is fenced by the lease owner exactly as on SQLite: a claim by another
// node takes the row lock and replaces lease_owner, so a stalled owner's later write (which waits on that lock and
// then re-checks its WHERE on the newest row) changes nothing and reports false.
import type { SQL } from "bun";
import { heldBy } from "./claims";
import type { Tx } from "../index";
import { firstStep, JOB_ID_BYTES, PAYABLE, type JobRow } from "../jobs";
import { randomHex } from "../../protocol/hex";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgJobs(sql: SQL): Tx["jobs"] {
  const byOne = async (rows: Promise<Record<string, unknown>[]>) => pgRecordOrNull<JobRow>(await rows);
  return {
    async enqueueSettlement(orderId, candidates, now, deadline) {
      const id = randomHex(JOB_ID_BYTES);
      await sql`INSERT INTO jobs (id, order_id, kind, state, candidates_json, path_index, step, next_attempt_at,
          deadline, created_at, updated_at)
        VALUES (${id}, ${orderId}, 'settle', 'pending', ${JSON.stringify(candidates)}, 0, ${firstStep(candidates[0])},
          ${now}, ${deadline}, ${now}, ${now})`;
      return id;
    },
    byOrder: (orderId) => byOne(sql`SELECT * FROM jobs WHERE order_id = ${orderId} AND kind = 'settle'`),
    byId: (id) => byOne(sql`SELECT * FROM jobs WHERE id = ${id}`),
    async advance(id, owner, s) {
      const r = await sql`UPDATE jobs SET step = ${s.step}, step_data = ${s.stepData}, step_attempts = 0,
          attempts = attempts + 1, pinned = ${s.pinned ? 1 : 0}, updated_at = ${s.now}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return r.count === 1;
    },
    async advanceByProof(id, from, s) {
      const r = await sql`UPDATE jobs SET step = ${s.step}, step_data = ${s.stepData}, step_attempts = 0,
          pinned = ${s.pinned ? 1 : 0}, next_attempt_at = ${s.now}, updated_at = ${s.now}
        WHERE id = ${id} AND step = ${from}`;
      return r.count === 1;
    },
    async nextPath(id, owner, p) {
      const r = await sql`UPDATE jobs SET path_index = ${p.index}, step = ${p.step}, step_data = '{}',
          step_attempts = 0, attempts = attempts + 1, last_error = ${p.reason}, updated_at = ${p.now}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return r.count === 1;
    },
    async retryLater(id, owner, r) {
      const w = await sql`UPDATE jobs SET step_attempts = step_attempts + 1, attempts = attempts + 1,
          pinned = ${r.pinned ? 1 : 0}, next_attempt_at = ${r.at}, last_error = ${r.reason}, lease_owner = NULL,
          lease_until = NULL, updated_at = ${r.now}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return w.count === 1;
    },
    async finish(id, owner, state, error, now) {
      const r = await sql`UPDATE jobs SET state = ${state}, last_error = COALESCE(${error}::text, last_error),
          lease_owner = NULL, lease_until = NULL, updated_at = ${now}
        WHERE id = ${id} AND ${heldBy(sql, owner)}`;
      return r.count === 1;
    },
    async markDone(id, now) {
      const r = await sql`UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ${now}
        WHERE id = ${id}`;
      return r.count === 1;
    },
    async refundedByOperator(id, now) {
      const r = await sql`UPDATE jobs SET state = 'failed', last_error = 'refunded by operator', lease_owner = NULL,
          updated_at = ${now}
        WHERE id = ${id}`;
      return r.count === 1;
    },
    async release(id, owner) {
      const r = await sql`UPDATE jobs SET lease_owner = NULL, lease_until = NULL
        WHERE id = ${id} AND lease_owner = ${owner}`;
      return r.count === 1;
    },
    waitingForProof: async (currency) =>
      pgRecords<JobRow & { oid: number }>(
        await sql.unsafe(
          `SELECT j.*, o.id AS oid FROM jobs j JOIN orders o ON o.id = j.order_id
           WHERE j.state IN ('pending', 'in_review') AND o.status IN (${PAYABLE}) AND o.currency = $1`,
          [currency],
        ),
      ),
  };
}
