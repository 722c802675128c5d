// §8.1 sessions on PostgreSQL (see ../sessions.ts). Single use is one conditional UPDATE on either engine (a
// concurrent claimer waits on the row and re-checks `status = 'pending'` on its newest version). The pending-QR
// limit is not: SQLite's count-then-insert is one decision only because it has one writer, so here the user's row
// is locked first, serialising one user's session creation across every node.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { SESSION_ID_RE, type SessionRow } from "../sessions";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgSessions(sql: SQL): Tx["sessions"] {
  return {
    async insert(s) {
      await sql`INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at)
        VALUES (${s.id}, ${s.kind}, ${s.userId}, ${s.status}, ${s.createdAt}, ${s.expiresAt})`;
    },
    async insertPendingQr(s, max) {
      await sql`SELECT 1 FROM app_users WHERE id = ${s.userId} FOR UPDATE`;
      const rows = await sql`INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at)
        SELECT ${s.id}, 'qr', ${s.userId}, 'pending', ${s.createdAt}, ${s.expiresAt}
        WHERE (SELECT COUNT(*) FROM sessions WHERE user_id = ${s.userId} AND kind = 'qr' AND status = 'pending'
                 AND expires_at >= ${s.createdAt}) < ${max}
        RETURNING id`;
      return rows.length === 1;
    },
    get: async (id) =>
      SESSION_ID_RE.test(id) ? pgRecordOrNull<SessionRow>(await sql`SELECT * FROM sessions WHERE id = ${id}`) : null,
    async claim(id, now) {
      const r = await sql`UPDATE sessions SET status = 'used', used_at = ${now}
        WHERE id = ${id} AND status = 'pending' AND expires_at >= ${now}`;
      return r.count === 1;
    },
    async cancel(id, userId) {
      const r = await sql`UPDATE sessions SET status = 'cancelled'
        WHERE id = ${id} AND status = 'pending' AND user_id = ${userId}`;
      return r.count === 1;
    },
    open: async (userId, now) =>
      pgRecords<Pick<SessionRow, "id" | "createdAt" | "expiresAt">>(
        await sql`SELECT id, created_at, expires_at FROM sessions
          WHERE user_id = ${userId} AND kind = 'qr' AND status = 'pending' AND expires_at >= ${now}
          ORDER BY created_at DESC, id`,
      ),
    async cancelOpen(userId) {
      const r = await sql`UPDATE sessions SET status = 'cancelled'
        WHERE user_id = ${userId} AND kind = 'qr' AND status = 'pending'`;
      return r.count;
    },
    async pendingCount(userId, now) {
      const [r] = await sql`SELECT COUNT(*) AS n FROM sessions
        WHERE user_id = ${userId} AND kind = 'qr' AND status = 'pending' AND expires_at >= ${now}`;
      return Number(r.n);
    },
    async bindUser(id, userId) {
      await sql`UPDATE sessions SET user_id = ${userId} WHERE id = ${id} AND user_id IS NULL`;
    },
  };
}
