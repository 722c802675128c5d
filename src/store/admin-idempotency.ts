// Issue 16: Idempotency-Key records for admin mutations, per API key. A key is claimed (`in_flight`) and answered
// (`done`) in the transaction of the mutation itself, so an answer is stored iff the mutation committed; an
// `in_flight` row seen by anyone else is another process's claim still running (or one a crash left behind).
import type { Database } from "bun:sqlite";
import { camelOrNull, type Camel } from "./records";

type Row = {
  request_hash: string;
  state: "in_flight" | "done";
  status: number | null;
  response: string | null;
  created_at: number;
};
export type IdemRow = Camel<Row>;

export function adminIdempotency(db: Database) {
  const get = db.query<Row, [string, string]>(
    "SELECT request_hash, state, status, response, created_at FROM admin_idempotency WHERE actor = ? AND key = ?",
  );
  // Claim-first: one INSERT decides who owns the key; a second claimer gets no row back and reads the owner's.
  const claim = db.query<{ n: number }, [string, string, string, number]>(
    `INSERT INTO admin_idempotency (actor, key, request_hash, state, created_at) VALUES (?, ?, ?, 'in_flight', ?)
     ON CONFLICT (actor, key) DO NOTHING RETURNING 1 AS n`,
  );
  const finish = db.query(
    `UPDATE admin_idempotency SET state = 'done', status = ?3, response = ?4
     WHERE actor = ?1 AND key = ?2 AND state = 'in_flight'`,
  );
  const release = db.query("DELETE FROM admin_idempotency WHERE actor = ? AND key = ? AND state = 'in_flight'");
  const expire = db.query("DELETE FROM admin_idempotency WHERE actor = ? AND key = ? AND created_at < ?");
  return {
    get: (actor: string, key: string) => camelOrNull(get.get(actor, key)),
    /** true: the key is this request's now; false: someone holds it (read it with `get`). */
    claim: (actor: string, key: string, hash: string, now: number): boolean =>
      claim.get(actor, key, hash, now) !== null,
    finish: (actor: string, key: string, status: number, response: string) =>
      finish.run(actor, key, status, response).changes === 1,
    release: (actor: string, key: string) => void release.run(actor, key),
    expireOlderThan: (actor: string, key: string, cutoff: number) => void expire.run(actor, key, cutoff),
  };
}
