// §4.4 nonces on PostgreSQL (see ../nonces.ts): the same upsert text as SQLite. Two nodes recording one nonce at
// once: the second INSERT waits on the first's row, then takes the conflict path and its WHERE (`expires_at < now`)
// is false, so it writes nothing and the replay is refused; exactly one of them sees the nonce as fresh.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { nonceRetention, PRUNE_BATCH, RECORD_NONCE } from "../nonces";

export function pgNonces(sql: SQL): Tx["nonces"] {
  const record = async (ocid: number, nonce: string, now: number, window: number): Promise<boolean> =>
    (await sql.unsafe(RECORD_NONCE, [ocid, nonce, now + nonceRetention(window), now])).count === 1;
  return {
    record,
    async pruneBatch(now) {
      const r = await sql`DELETE FROM nonces WHERE (ocid, nonce) IN (
          SELECT ocid, nonce FROM nonces WHERE expires_at < ${now} LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`;
      return r.count;
    },
    async prune(now) {
      let total = 0;
      for (;;) {
        // SKIP LOCKED: nodes pruning at once take disjoint batches instead of waiting on each other's rows.
        const r = await sql`DELETE FROM nonces WHERE (ocid, nonce) IN (
            SELECT ocid, nonce FROM nonces WHERE expires_at < ${now} LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`;
        total += r.count;
        if (r.count < PRUNE_BATCH) return total;
      }
    },
  };
}
