// §10.1 bearer tokens of every kind, stored only as SHA-256: the operator's long-lived token, short-lived sign-in
// sessions (absolute expiry + idle timeout, revocable, optionally bound to the web origin), and one-time enrolment
// links that may only register a first passkey.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { sha256Hex } from "../protocol/hash";
import type { User } from "./users";

export const TOKEN_KINDS = ["operator", "session", "enrol"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** What a presented token is, besides whose: routes and the socket decide what each kind may do. */
export type TokenGrant = {
  hash: string;
  kind: TokenKind;
  expiresAt: number | null;
  idleTimeout: number | null;
  /** The web origin a session was issued to; requests from another origin are refused. */
  origin: string | null;
  /** The passkey a session was signed in with (removing it ends the session). */
  passkeyId: string | null;
};

/** `last_used_at` is written at most this often per token (an idle check to the minute, not a write per request). */
export const TOUCH_INTERVAL = 60;

/** A token as issued: 64 hex digits (anything else is refused before a lookup). */
export const TOKEN_RE = /^[0-9a-f]{64}$/;

type Row = {
  id: string;
  name: string;
  created_at: number;
  ocid: number | null;
  token_hash: string;
  kind: TokenKind;
  expires_at: number | null;
  idle_timeout: number | null;
  origin: string | null;
  passkey_id: string | null;
  last_used_at: number | null;
  token_created_at: number;
};

export type IssueOpts = {
  kind: TokenKind;
  ttl?: number;
  idleTimeout?: number;
  origin?: string | null;
  passkeyId?: string | null;
};

/** When a token is accepted (`?2` = now): the one rule, for HTTP and the WebSocket alike. */
const LIVE = `t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at >= ?2)
  AND (t.idle_timeout IS NULL OR COALESCE(t.last_used_at, t.created_at) + t.idle_timeout >= ?2)`;

export function tokens(db: Database) {
  const insert = db.query(
    `INSERT INTO app_tokens (token_hash, user_id, created_at, expires_at, kind, idle_timeout, origin, passkey_id,
       last_used_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const lookup = db.query<Row, [string, number]>(
    `SELECT u.id, u.name, u.created_at, u.ocid, t.token_hash, t.kind, t.expires_at, t.idle_timeout, t.origin,
       t.passkey_id,
            t.last_used_at, t.created_at AS token_created_at
       FROM app_tokens t JOIN app_users u ON u.id = t.user_id
      WHERE t.token_hash = ?1 AND ${LIVE}`,
  );
  const liveHashes = db.query<{ token_hash: string }, [string, number]>(
    `SELECT token_hash FROM app_tokens t WHERE t.token_hash IN (SELECT value FROM json_each(?1)) AND ${LIVE}`,
  );
  const touch = db.query("UPDATE app_tokens SET last_used_at = ?2 WHERE token_hash = ?1");
  const revoke = db.query("UPDATE app_tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL");
  const revokeByPasskey = db.query(
    "UPDATE app_tokens SET revoked_at = ?2 WHERE passkey_id = ?1 AND revoked_at IS NULL AND token_hash <> ?3",
  );

  return {
    /** A new token (shown once). Call inside a transaction. */
    issue(userId: string, now: number, o: IssueOpts): { token: string; hash: string; expiresAt: number | null } {
      const token = randomHex(32);
      const hash = sha256Hex(token);
      const expiresAt = o.ttl ? now + o.ttl : null;
      insert.run(
        hash,
        userId,
        now,
        expiresAt,
        o.kind,
        o.idleTimeout ?? null,
        o.origin ?? null,
        o.passkeyId ?? null,
        null,
      );
      return { token, hash, expiresAt };
    },
    /** The user and grant behind a live token, or null; counts as use for the idle timeout. */
    use(token: string, now: number): { user: User; grant: TokenGrant } | null {
      if (!TOKEN_RE.test(token)) return null;
      const r = lookup.get(sha256Hex(token), now);
      if (!r) return null;
      if (
        r.idle_timeout !== null &&
        now - (r.last_used_at ?? r.token_created_at) >= Math.min(TOUCH_INTERVAL, r.idle_timeout / 2)
      )
        touch.run(r.token_hash, now);
      return {
        user: { id: r.id, name: r.name, createdAt: r.created_at, ocid: r.ocid ?? null },
        grant: {
          hash: r.token_hash,
          kind: r.kind,
          expiresAt: r.expires_at,
          idleTimeout: r.idle_timeout,
          origin: r.origin,
          passkeyId: r.passkey_id,
        },
      };
    },
    /** Which of these token hashes still authenticate at `now` (open sockets re-check theirs). */
    liveHashes: (hashes: string[], now: number): Set<string> =>
      new Set(hashes.length ? liveHashes.all(JSON.stringify(hashes), now).map((r) => r.token_hash) : []),
    /** Still accepted (inside a transaction: nobody revoked it since the request was authenticated). */
    isLive: (hash: string, now: number) => liveHashes.all(JSON.stringify([hash]), now).length === 1,
    /** true when this call revoked it (false: unknown or already revoked). */
    revoke: (hash: string, now: number) => revoke.run(hash, now).changes === 1,
    /** Every session signed in with this passkey, except the caller's own `keep`. */
    revokeByPasskey: (passkeyId: string, now: number, keep = "") => revokeByPasskey.run(passkeyId, now, keep).changes,
  };
}
export type Tokens = ReturnType<typeof tokens>;
