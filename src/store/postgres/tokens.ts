// §10.1 bearer tokens on PostgreSQL (see ../tokens.ts): the same liveness rule, the hash list as a text[] instead
// of SQLite's json_each.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { TOKEN_RE, TOUCH_INTERVAL, type TokenKind } from "../tokens";
import { randomHex } from "../../protocol/hex";
import { sha256Hex } from "../../protocol/hash";
import { num } from "./rows";

/** When a token is accepted ($2 = now): the SQLite module's rule, spelt with this engine's placeholders. */
const LIVE = `t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at >= $2)
  AND (t.idle_timeout IS NULL OR COALESCE(t.last_used_at, t.created_at) + t.idle_timeout >= $2)`;

export function pgTokens(sql: SQL): Tx["tokens"] {
  const live = async (hashes: string[], now: number): Promise<string[]> =>
    (
      await sql.unsafe(`SELECT token_hash FROM app_tokens t WHERE t.token_hash = ANY($1::text[]) AND ${LIVE}`, [
        hashes,
        now,
      ])
    ).map((r: { token_hash: string }) => r.token_hash);
  return {
    async issue(userId, now, o) {
      const token = randomHex(32);
      const hash = sha256Hex(token);
      const expiresAt = o.ttl ? now + o.ttl : null;
      await sql`INSERT INTO app_tokens (token_hash, user_id, created_at, expires_at, kind, idle_timeout, origin,
          passkey_id, last_used_at)
        VALUES (${hash}, ${userId}, ${now}, ${expiresAt}, ${o.kind}, ${o.idleTimeout ?? null}, ${o.origin ?? null},
          ${o.passkeyId ?? null}, NULL)`;
      return { token, hash, expiresAt };
    },
    async use(token, now) {
      if (!TOKEN_RE.test(token)) return null;
      const [r] = await sql.unsafe(
        `SELECT u.id, u.name, u.created_at, u.ocid, t.token_hash, t.kind, t.expires_at, t.idle_timeout, t.origin,
                t.passkey_id, t.last_used_at, t.created_at AS token_created_at
           FROM app_tokens t JOIN app_users u ON u.id = t.user_id
          WHERE t.token_hash = $1 AND ${LIVE}`,
        [sha256Hex(token), now],
      );
      if (!r) return null;
      const idle = num(r.idle_timeout);
      const lastUsed = num(r.last_used_at) ?? Number(r.token_created_at);
      if (idle !== null && now - lastUsed >= Math.min(TOUCH_INTERVAL, idle / 2))
        await sql`UPDATE app_tokens SET last_used_at = ${now} WHERE token_hash = ${r.token_hash}`;
      return {
        user: { id: r.id, name: r.name, createdAt: Number(r.created_at), ocid: num(r.ocid) },
        grant: {
          hash: r.token_hash,
          kind: r.kind as TokenKind,
          expiresAt: num(r.expires_at),
          idleTimeout: idle,
          origin: r.origin,
          passkeyId: r.passkey_id,
        },
      };
    },
    liveHashes: async (hashes, now) => new Set(hashes.length ? await live(hashes, now) : []),
    isLive: async (hash, now) => (await live([hash], now)).length === 1,
    async revoke(hash, now) {
      const r = await sql`UPDATE app_tokens SET revoked_at = ${now} WHERE token_hash = ${hash} AND revoked_at IS NULL`;
      return r.count === 1;
    },
    async revokeByPasskey(passkeyId, now, keep = "") {
      const r = await sql`UPDATE app_tokens SET revoked_at = ${now}
        WHERE passkey_id = ${passkeyId} AND revoked_at IS NULL AND token_hash <> ${keep}`;
      return r.count;
    },
  };
}
