// Issue 16 operator API keys on PostgreSQL (the SQLite twin: ../api-keys.ts): only the SHA-256 of a key is stored.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { API_KEY_RE, type ApiKey } from "../api-keys";
import { randomHex } from "../../protocol/hex";
import { sha256Hex } from "../../protocol/hash";
import { int, intOrNull } from "./values";

const toKey = (r: Record<string, unknown>): ApiKey => ({
  name: r.name as string,
  scopes: (r.scopes as string).split(",").filter(Boolean),
  createdAt: int(r.created_at),
  revokedAt: intOrNull(r.revoked_at),
});

export function pgApiKeys(sql: SQL): Tx["apiKeys"] {
  return {
    async create(name, scopes, now) {
      const key = "ock_" + randomHex(32);
      await sql`INSERT INTO api_keys (name, key_hash, scopes, created_at)
        VALUES (${name}, ${sha256Hex(key)}, ${scopes.join(",")}, ${now})`;
      return key;
    },
    async byName(name) {
      const [r] = await sql`SELECT name, scopes, created_at, revoked_at FROM api_keys WHERE name = ${name}`;
      return r ? toKey(r) : null;
    },
    async byKey(key) {
      if (!API_KEY_RE.test(key)) return null;
      const [r] = await sql`SELECT name, scopes, created_at, revoked_at FROM api_keys
        WHERE key_hash = ${sha256Hex(key)} AND revoked_at IS NULL`;
      return r ? toKey(r) : null;
    },
    async list() {
      // COLLATE "C": names in SQLite's byte order, whatever the database's collation.
      const rows = await sql`SELECT name, scopes, created_at, revoked_at FROM api_keys
        ORDER BY created_at, name COLLATE "C"`;
      return rows.map(toKey);
    },
    async revoke(name, now) {
      const rows = await sql`UPDATE api_keys SET revoked_at = ${now} WHERE name = ${name} AND revoked_at IS NULL
        RETURNING 1`;
      return rows.length === 1;
    },
  };
}
