// §8.1 sessions: 128-bit random ids, single use, claimed by one conditional UPDATE.
import type { Database } from "bun:sqlite";
import { camelAll, camelOrNull, type Camel } from "./records";

type Row = {
  id: string;
  /** `scan`: a merchant code the user scanned (issue 13; details in `scans`). */
  kind: "qr" | "checkout" | "scan";
  user_id: string | null;
  status: "pending" | "used" | "cancelled";
  created_at: number;
  expires_at: number;
  used_at: number | null;
};
export type SessionRow = Camel<Row>;

export const SESSION_ID_RE = /^[0-9a-f]{32}$/;

export function sessions(db: Database) {
  const insert = db.query(
    "INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const get = db.query<Row, [string]>("SELECT * FROM sessions WHERE id = ?");
  const claim = db.query(
    "UPDATE sessions SET status = 'used', used_at = ?2 WHERE id = ?1 AND status = 'pending' AND expires_at >= ?2",
  );
  const cancel = db.query(
    "UPDATE sessions SET status = 'cancelled' WHERE id = ?1 AND status = 'pending' AND user_id = ?2",
  );
  const pendingCount = db.query<{ n: number }, [string, number]>(
    "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND kind = 'qr' AND status = 'pending' AND expires_at >= ?",
  );
  const open = db.query<Pick<Row, "id" | "created_at" | "expires_at">, [string, number]>(
    `SELECT id, created_at, expires_at FROM sessions
     WHERE user_id = ? AND kind = 'qr' AND status = 'pending' AND expires_at >= ? ORDER BY created_at DESC, id`,
  );
  const cancelOpen = db.query(
    "UPDATE sessions SET status = 'cancelled' WHERE user_id = ? AND kind = 'qr' AND status = 'pending'",
  );
  const insertPendingQr = db.query<{ id: string }, [string, string, number, number, number]>(
    `INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at)
     SELECT ?1, 'qr', ?2, 'pending', ?3, ?4
      WHERE (SELECT COUNT(*) FROM sessions
              WHERE user_id = ?2 AND kind = 'qr' AND status = 'pending' AND expires_at >= ?3) < ?5
     RETURNING id`,
  );
  const setUser = db.query("UPDATE sessions SET user_id = ?2 WHERE id = ?1 AND user_id IS NULL");
  return {
    insert: (s: Omit<SessionRow, "usedAt">): void =>
      void insert.run(s.id, s.kind, s.userId, s.status, s.createdAt, s.expiresAt),
    /**
     * Claim-first: a pending QR session is created only while the user has fewer than `max` pending ones, in one
     * statement (no count-then-insert that only SQLite's single writer would keep honest). true = created.
     */
    insertPendingQr: (s: { id: string; userId: string; createdAt: number; expiresAt: number }, max: number): boolean =>
      insertPendingQr.get(s.id, s.userId, s.createdAt, s.expiresAt, max) !== null,
    get: (id: string) => (SESSION_ID_RE.test(id) ? camelOrNull(get.get(id)) : null),
    /** true when this caller won the session (§9.4 step 11.1). */
    claim: (id: string, now: number) => claim.run(id, now).changes === 1,
    cancel: (id: string, userId: string) => cancel.run(id, userId).changes === 1,
    /** The user's QR codes a merchant could still submit to (issue 19: the "open codes" list). */
    open: (userId: string, now: number) => camelAll(open.all(userId, now)),
    /** Sign-out: every pending code of the user, expired ones included (they can never be used either way). */
    cancelOpen: (userId: string) => cancelOpen.run(userId).changes,
    pendingCount: (userId: string, now: number) => pendingCount.get(userId, now)?.n ?? 0,
    /** A checkout session becomes the confirming user's. */
    bindUser: (id: string, userId: string): void => void setUser.run(id, userId),
  };
}
export type Sessions = ReturnType<typeof sessions>;

/** A session as the user sees it: a pending session past its expiry is `expired` (no background job needed). */
export function sessionStatus(s: SessionRow, now: number): "pending" | "used" | "cancelled" | "expired" {
  return s.status === "pending" && s.expiresAt < now ? "expired" : s.status;
}
