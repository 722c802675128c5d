import type { Database } from "bun:sqlite";

export const NONCE_RETENTION = 600;

/** §4.4: one atomic upsert; an expired-but-unpruned row is reused. true = fresh, false = replay. */
export function nonceRecorder(db: Database) {
  const stmt = db.query(
    `INSERT INTO nonces (ocid, nonce, expires_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (ocid, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?4`,
  );
  return (ocid: number, nonce: string, now: number): boolean => stmt.run(ocid, nonce, now + NONCE_RETENTION, now).changes === 1;
}

/** Deletes expired nonces in small batches so a large backlog never holds the write lock for long. */
export function pruneNonces(db: Database, now: number, batch = 2000): number {
  const stmt = db.query(
    `DELETE FROM nonces WHERE (ocid, nonce) IN (SELECT ocid, nonce FROM nonces WHERE expires_at <= ?1 LIMIT ?2)`,
  );
  let total = 0;
  for (;;) {
    const n = stmt.run(now, batch).changes;
    total += n;
    if (n < batch) return total;
  }
}
