// Issue 16: Idempotency-Key on admin mutations. Same key + same request → the stored answer; same key + another
// request → 422; a request still running under the key (another process's claim) → 409. The answer is stored in
// the mutation's own transaction, so a retry after a crash either finds it or runs the mutation for the first time.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { sha256Hex } from "../protocol/hash";
import type { IdemRow } from "../store/admin-idempotency";
import type { Tx } from "../store";

export type Answer = { status: number; body: unknown };

const KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/;
/** Stored answers are kept a day (like §9.7); a claim older than this was abandoned by a dead process. */
export const ADMIN_IDEMPOTENCY_TTL = 24 * 3600;
const STALE_CLAIM = 120;
/** What a client is told to wait while another request holds the key, in seconds. */
const RETRY_AFTER_S = 1;

/** `run` executes inside the mutation's transaction `tx`. */
export async function withIdempotency(
  gw: Pick<Gateway, "clock" | "store">,
  actor: string,
  key: string | null,
  request: string,
  run: (tx: Tx) => Promise<Answer>,
): Promise<Answer> {
  if (key === null) return gw.store.transaction(run);
  if (!KEY_RE.test(key))
    throw new ProtocolError("INVALID_REQUEST", "Idempotency-Key: 1–128 of A-Z a-z 0-9 . _ : -", {
      fields: ["Idempotency-Key"],
    });
  const hash = sha256Hex(request);
  const now = gw.clock();
  // Claim-first, in the mutation's own transaction: the claim, the mutation and the stored answer commit together
  // (a refusal rolls all three back, leaving the key free), and a concurrent retry's claim waits for that commit
  // and then replays the answer. An `in_flight` row is another process's claim (or one a crash left behind).
  return gw.store.transaction(async (tx): Promise<Answer> => {
    const idem = tx.adminIdempotency;
    await idem.expireOlderThan(actor, key, now - ADMIN_IDEMPOTENCY_TTL);
    if (!(await idem.claim(actor, key, hash, now))) {
      const row = (await idem.get(actor, key))!;
      const abandoned = row.state === "in_flight" && row.createdAt < now - STALE_CLAIM;
      if (!abandoned) return storedAnswer(row, hash);
      await idem.release(actor, key);
      await idem.claim(actor, key, hash, now);
    }
    const answer = await run(tx);
    await idem.finish(actor, key, answer.status, JSON.stringify(answer.body));
    return answer;
  });
}

function storedAnswer(row: IdemRow, hash: string): Answer {
  if (row.requestHash !== hash)
    throw new ProtocolError("IDEMPOTENCY_KEY_REUSED", undefined, { reason: "idempotency_key_reused" });
  if (row.state === "in_flight") {
    const retry = { "retry-after": String(RETRY_AFTER_S) };
    throw new ProtocolError("IDEMPOTENCY_IN_PROGRESS", undefined, { retryAfter: RETRY_AFTER_S }, retry);
  }
  return { status: row.status!, body: JSON.parse(row.response!) };
}
