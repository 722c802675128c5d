import type { Database } from "bun:sqlite";

/**
 * Seconds of slack on top of the window in a nonce's retention: the nonce is stamped with a clock read taken a
 * moment after the timestamp check (a deferred, in-transaction insert), and a wall clock can step back a little.
 */
export const NONCE_SKEW = 5;

/**
 * How long a nonce must be kept (§4.4, fixed here): a timestamp is accepted while |now - ts| <= window, so a request
 * dated `first use + window` stays acceptable until `first use + 2 x window`. Keeping the nonce any shorter lets a
 * byte-for-byte replay through at the far edge of the window (600 s retention with a 300 s window did), and a
 * longer configured window must lengthen the retention with it.
 */
export function nonceRetention(window: number): number {
  return 2 * window + NONCE_SKEW;
}

/**
 * §4.4: one atomic upsert. `expires_at` is the last second the row must still block; a row is reused only strictly
 * after it (`expires_at < now`), when no request carrying it can pass the timestamp check any more.
 * true = fresh, false = replay.
 */
export function nonceRecorder(db: Database, window: number) {
  const retention = nonceRetention(window);
  const stmt = db.query(RECORD_NONCE);
  return (ocid: number, nonce: string, now: number): boolean =>
    stmt.run(ocid, nonce, now + retention, now).changes === 1;
}

/** The upsert, in the placeholders both engines read ($N): ocid, nonce, expires_at, now. */
export const RECORD_NONCE = `INSERT INTO nonces (ocid, nonce, expires_at) VALUES ($1, $2, $3)
  ON CONFLICT (ocid, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at < $4`;

/** Rows deleted per statement while pruning: short enough never to hold the write lock for long. */
export const PRUNE_BATCH = 2000;

/** Deletes nonces that can no longer block anything, in small batches so a backlog never holds the write lock long. */
const PRUNE_SOME = `DELETE FROM nonces WHERE (ocid, nonce) IN
  (SELECT ocid, nonce FROM nonces WHERE expires_at < ?1 LIMIT ?2)`;

export function pruneNonces(db: Database, now: number, batch = PRUNE_BATCH): number {
  const stmt = db.query(PRUNE_SOME);
  let total = 0;
  for (;;) {
    const n = stmt.run(now, batch).changes;
    total += n;
    if (n < batch) return total;
  }
}

/** The nonce repository of one database: the recorder for a signature window, and the background pruning. */
export function nonces(db: Database) {
  const record = db.query(RECORD_NONCE);
  const pruneSome = db.query(PRUNE_SOME);
  return {
    /** The port's form, for any engine: records one nonce for `window`'s retention; true = fresh, false = replay. */
    record: (ocid: number, nonce: string, now: number, window: number): boolean =>
      record.run(ocid, nonce, now + nonceRetention(window), now).changes === 1,
    prune: (now: number): number => pruneNonces(db, now),
    /** One batch of `prune` (the port's form: a short transaction per batch); returns how many rows went. */
    pruneBatch: (now: number): number => pruneSome.run(now, PRUNE_BATCH).changes,
  };
}
