// §9.7 inbound idempotency: a peer's (ocid, Idempotency-Key) and the answer it got, for 24 h. Claim-first: the key
// is taken by one INSERT … ON CONFLICT … RETURNING at the start of the transfer's own transaction and answered at
// its end, so two concurrent requests with one key can never both move money, on any engine.
import type { Database } from "bun:sqlite";

export type IdempotentReply = { bodyHash: string; status: number; response: string; createdAt: number };

/** A claimed key's status until its transaction answers it (never visible to others: same transaction). */
const CLAIMED = 0;

export function idempotency(db: Database) {
  const get = db.query<{ body_hash: string; status: number; response: string; created_at: number }, [number, string]>(
    "SELECT body_hash, status, response, created_at FROM idempotency WHERE ocid = ? AND key = ?",
  );
  // An expired answer is taken over by the new claim; a live one is left alone (no row returned).
  const claim = db.query<{ n: number }, [number, string, string, number, number]>(
    `INSERT INTO idempotency (ocid, key, body_hash, status, response, created_at)
     VALUES (?1, ?2, ?3, ${CLAIMED}, '', ?4)
     ON CONFLICT (ocid, key) DO UPDATE SET body_hash = excluded.body_hash, status = ${CLAIMED}, response = '',
       created_at = excluded.created_at
     WHERE idempotency.created_at + ?5 < ?4
     RETURNING 1 AS n`,
  );
  const answer = db.query("UPDATE idempotency SET status = ?3, response = ?4 WHERE ocid = ?1 AND key = ?2");
  return {
    reply(ocid: number, key: string): IdempotentReply | null {
      const r = get.get(ocid, key);
      return r && { bodyHash: r.body_hash, status: r.status, response: r.response, createdAt: r.created_at };
    },
    /** true: this transaction owns the key now (new, or the stored answer was older than `ttl`). */
    claim: (ocid: number, key: string, bodyHash: string, now: number, ttl: number): boolean =>
      claim.get(ocid, key, bodyHash, now, ttl) !== null,
    /** The claimed key's answer; call in the transaction that claimed it. */
    answer: (ocid: number, key: string, status: number, response: string): void =>
      void answer.run(ocid, key, status, response),
  };
}
