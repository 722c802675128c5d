// §10.1 wallet users: opaque ids, and their operator-issued bearer tokens (stored only as SHA-256; looking a
// token up, and the other token kinds, live in ./tokens).
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { sha256Hex } from "../protocol/hash";

/** `ocid`: the user's own end-user OCID (issue 17), null until the operator gives one. */
export type User = { id: string; name: string; createdAt: number; ocid?: number | null };
type Row = { id: string; name: string; created_at: number; ocid?: number | null };

export function users(db: Database) {
  const insertUser = db.query("INSERT INTO app_users (id, name, created_at) VALUES (?, ?, ?)");
  const insertToken = db.query(
    "INSERT INTO app_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
  );
  const revokeAll = db.query("UPDATE app_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL");
  const byName = db.query<Row, [string]>("SELECT * FROM app_users WHERE name = ?");
  const byId = db.query<Row, [string]>("SELECT * FROM app_users WHERE id = ?");
  const all = db.query<Row, []>("SELECT * FROM app_users ORDER BY created_at, name");
  const byOcid = db.query<Row, [number]>("SELECT * FROM app_users WHERE ocid = ?");
  const setOcid = db.query("UPDATE app_users SET ocid = ?2 WHERE id = ?1");
  const setFrozen = db.query(
    "UPDATE app_users SET frozen_at = ?2 WHERE id = ?1 AND (frozen_at IS NULL) = (?2 IS NOT NULL)",
  );
  const frozenAt = db.query<{ frozen_at: number | null }, [string]>("SELECT frozen_at FROM app_users WHERE id = ?");
  const page = db.query<Row & { rowid: number }, [number, number]>(
    "SELECT rowid, id, name, created_at, ocid FROM app_users WHERE rowid > ? ORDER BY rowid LIMIT ?",
  );
  const toUser = (r: Row): User => ({ id: r.id, name: r.name, createdAt: r.created_at, ocid: r.ocid ?? null });

  const issueToken = (userId: string, now: number, ttl?: number): string => {
    const token = randomHex(32);
    insertToken.run(sha256Hex(token), userId, now, ttl ? now + ttl : null);
    return token;
  };

  return {
    /** Call inside a transaction. Returns the user and its first token (shown once). */
    create(name: string, now: number, ttl?: number): { user: User; token: string } {
      const id = randomHex(10);
      insertUser.run(id, name, now);
      return { user: { id, name, createdAt: now, ocid: null }, token: issueToken(id, now, ttl) };
    },
    /** New operator token, every older token of every kind (sign-in sessions included) revoked. In a transaction. */
    rotateToken(userId: string, now: number, ttl?: number): string {
      revokeAll.run(userId, now);
      return issueToken(userId, now, ttl);
    },
    byName: (name: string) => {
      const r = byName.get(name);
      return r ? toUser(r) : null;
    },
    byId: (id: string) => {
      const r = byId.get(id);
      return r ? toUser(r) : null;
    },
    list: () => all.all().map(toUser),
    /** Issue 16: a frozen user cannot confirm, pay or receive. Returns false when already in that state. */
    setFrozen: (id: string, at: number | null) => setFrozen.run(id, at).changes === 1,
    frozenAt: (id: string): number | null => frozenAt.get(id)?.frozen_at ?? null,
    /** Cursor pages in creation order (`after` is the last row's cursor). */
    page: (after: number, limit: number) => page.all(after, limit).map((r) => ({ ...toUser(r), cursor: r.rowid })),
    byOcid: (ocid: number) => {
      const r = byOcid.get(ocid);
      return r ? toUser(r) : null;
    },
    /** Call inside a transaction; the unique index refuses an OCID another user holds. */
    setOcid: (userId: string, ocid: number | null) => setOcid.run(userId, ocid).changes === 1,
  };
}
export type Users = ReturnType<typeof users>;
