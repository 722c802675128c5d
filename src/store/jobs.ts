// §12.4 settlement outbox rows. The scheduler (src/settlement) claims and runs them.
import type { Database } from "bun:sqlite";
import type { Candidate } from "../settlement/candidates";
import { randomHex } from "../protocol/hex";

export type JobState = "pending" | "done" | "failed" | "in_review";

export type JobRow = {
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

/** The first step of each strategy (§12.6–12.9). */
export function firstStep(c: Candidate | undefined): string {
  switch (c?.type) {
    case "partner_reserve":
      return "transfer.create";
    case "common_third_party":
      return "payment.create";
    case "checkout":
      return "checkout.credit";
    case "direct":
      return "direct.credit";
    default:
      return "none";
  }
}

export function jobs(db: Database) {
  const insert = db.query(
    `INSERT INTO jobs (id, order_id, kind, state, candidates_json, path_index, step, next_attempt_at, deadline, created_at, updated_at)
     VALUES (?1, ?2, 'settle', 'pending', ?3, 0, ?4, ?5, ?6, ?5, ?5)`,
  );
  const byOrder = db.query<JobRow, [number]>("SELECT * FROM jobs WHERE order_id = ? AND kind = 'settle'");
  const byId = db.query<JobRow, [string]>("SELECT * FROM jobs WHERE id = ?");
  return {
    /** Call inside the confirm transaction: the outbox row commits with the debit or not at all. */
    enqueueSettlement(orderId: number, candidates: Candidate[], now: number, deadline: number): string {
      const id = randomHex(16);
      insert.run(id, orderId, JSON.stringify(candidates), firstStep(candidates[0]), now, deadline);
      return id;
    },
    byOrder: (orderId: number) => byOrder.get(orderId),
    byId: (id: string) => byId.get(id),
  };
}
export type Jobs = ReturnType<typeof jobs>;
