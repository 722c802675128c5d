// Issue 16: the operator's API keys for /admin. Only the SHA-256 of a key is stored; the key is shown once.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { sha256Hex } from "../protocol/hash";

export type ApiKey = { name: string; scopes: string[]; createdAt: number; revokedAt: number | null };
type Row = { name: string; scopes: string; created_at: number; revoked_at: number | null };

/** `ock_` + 64 hex: recognisable in a leaked-secret scan, never confused with a wallet token (64 hex). */
export const API_KEY_RE = /^ock_[0-9a-f]{64}$/;

const toKey = (r: Row): ApiKey => ({
  name: r.name,
  scopes: r.scopes.split(",").filter(Boolean),
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export function apiKeys(db: Database) {
  const insert = db.query("INSERT INTO api_keys (name, key_hash, scopes, created_at) VALUES (?, ?, ?, ?)");
  const byName = db.query<Row, [string]>("SELECT name, scopes, created_at, revoked_at FROM api_keys WHERE name = ?");
  const byHash = db.query<Row, [string]>(
    "SELECT name, scopes, created_at, revoked_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
  );
  const all = db.query<Row, []>("SELECT name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, name");
  const revoke = db.query("UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
  return {
    /** Call inside a transaction. Returns the key itself (never stored). */
    create(name: string, scopes: string[], now: number): string {
      const key = "ock_" + randomHex(32);
      insert.run(name, sha256Hex(key), scopes.join(","), now);
      return key;
    },
    byName: (name: string) => {
      const r = byName.get(name);
      return r ? toKey(r) : null;
    },
    /** The live key a bearer value names, or null (unknown, malformed or revoked). */
    byKey(key: string): ApiKey | null {
      if (!API_KEY_RE.test(key)) return null;
      const r = byHash.get(sha256Hex(key));
      return r ? toKey(r) : null;
    },
    list: () => all.all().map(toKey),
    revoke: (name: string, now: number) => revoke.run(name, now).changes === 1,
  };
}
export type ApiKeys = ReturnType<typeof apiKeys>;
