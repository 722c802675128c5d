// Issue 16 Idempotency-Key records of admin mutations on PostgreSQL (the SQLite twin: ../admin-idempotency.ts).
// Claim-first holds under concurrent transactions: a second INSERT of the same (actor, key) waits on the first
// one's uncommitted row, then does nothing if it committed (or takes the key if it rolled back).
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { IdemRow } from "../admin-idempotency";
import { pgRecordOrNull } from "./rows";

export function pgAdminIdempotency(sql: SQL): Tx["adminIdempotency"] {
  return {
    get: async (actor, key) =>
      pgRecordOrNull<IdemRow>(
        await sql`SELECT request_hash, state, status, response, created_at FROM admin_idempotency
          WHERE actor = ${actor} AND key = ${key}`,
      ),
    async claim(actor, key, hash, now) {
      const rows = await sql`INSERT INTO admin_idempotency (actor, key, request_hash, state, created_at)
        VALUES (${actor}, ${key}, ${hash}, 'in_flight', ${now}) ON CONFLICT (actor, key) DO NOTHING RETURNING 1`;
      return rows.length === 1;
    },
    async finish(actor, key, status, response) {
      const rows = await sql`UPDATE admin_idempotency SET state = 'done', status = ${status}, response = ${response}
        WHERE actor = ${actor} AND key = ${key} AND state = 'in_flight' RETURNING 1`;
      return rows.length === 1;
    },
    async release(actor, key) {
      await sql`DELETE FROM admin_idempotency WHERE actor = ${actor} AND key = ${key} AND state = 'in_flight'`;
    },
    async expireOlderThan(actor, key, cutoff) {
      await sql`DELETE FROM admin_idempotency WHERE actor = ${actor} AND key = ${key} AND created_at < ${cutoff}`;
    },
  };
}
