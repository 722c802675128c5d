// §9.7 inbound idempotency: a peer's (ocid, Idempotency-Key) and the answer it got, for 24 h.
import type { Database } from "bun:sqlite";

export type IdempotentReply = { bodyHash: string; status: number; response: string; createdAt: number };

export function idempotency(db: Database) {
  const get = db.query<{ body_hash: string; status: number; response: string; created_at: number }, [number, string]>(
    "SELECT body_hash, status, response, created_at FROM idempotency WHERE ocid = ? AND key = ?",
  );
  const save = db.query(
    `INSERT INTO idempotency (ocid, key, body_hash, status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (ocid, key) DO UPDATE SET body_hash = excluded.body_hash, status = excluded.status,
       response = excluded.response, created_at = excluded.created_at`,
  );
  return {
    reply(ocid: number, key: string): IdempotentReply | null {
      const r = get.get(ocid, key);
      return r && { bodyHash: r.body_hash, status: r.status, response: r.response, createdAt: r.created_at };
    },
    /** Records (or replaces an expired) answer; call in the transaction that made it. */
    save(ocid: number, key: string, r: IdempotentReply): void {
      save.run(ocid, key, r.bodyHash, r.status, r.response, r.createdAt);
    },
  };
}
