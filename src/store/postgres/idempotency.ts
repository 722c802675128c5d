// §9.7 inbound idempotency on PostgreSQL (see ../idempotency.ts). Claim-first on both engines: a concurrent claimer
// of the same key waits on the first one's row, then takes the conflict path, where only an answer older than `ttl`
// is taken over; so exactly one live claim wins.
import type { SQL } from "bun";
import type { Tx } from "../index";

/** A claimed key's status until its transaction answers it (as on SQLite). */
const CLAIMED = 0;

export function pgIdempotency(sql: SQL): Tx["idempotency"] {
  return {
    async reply(ocid, key) {
      const [r] = await sql`SELECT body_hash, status, response, created_at FROM idempotency
                            WHERE ocid = ${ocid} AND key = ${key}`;
      return r
        ? { bodyHash: r.body_hash, status: Number(r.status), response: r.response, createdAt: Number(r.created_at) }
        : null;
    },
    async claim(ocid, key, bodyHash, now, ttl) {
      const rows = await sql`INSERT INTO idempotency (ocid, key, body_hash, status, response, created_at)
        VALUES (${ocid}, ${key}, ${bodyHash}, ${CLAIMED}, '', ${now})
        ON CONFLICT (ocid, key) DO UPDATE SET body_hash = excluded.body_hash, status = ${CLAIMED}, response = '',
          created_at = excluded.created_at
        WHERE idempotency.created_at + ${ttl} < ${now}
        RETURNING 1`;
      return rows.length === 1;
    },
    async answer(ocid, key, status, response) {
      await sql`UPDATE idempotency SET status = ${status}, response = ${response}
                WHERE ocid = ${ocid} AND key = ${key}`;
    },
  };
}
