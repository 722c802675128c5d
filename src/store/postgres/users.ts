// §10.1 wallet users on PostgreSQL (see ../users.ts). Pages follow SQLite's rowid, which on Postgres is an explicit
// identity column of app_users (./schema.sql), so cursors are the same numbers in the same insertion order.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { User } from "../users";
import { randomHex } from "../../protocol/hex";
import { sha256Hex } from "../../protocol/hash";
import { num, type PgRow } from "./rows";

const toUser = (r: PgRow): User => ({
  id: r.id as string,
  name: r.name as string,
  createdAt: Number(r.created_at),
  ocid: num(r.ocid),
});
const userOrNull = (rows: PgRow[]): User | null => (rows.length ? toUser(rows[0]!) : null);

export function pgUsers(sql: SQL): Tx["users"] {
  const issueToken = async (userId: string, now: number, ttl?: number): Promise<string> => {
    const token = randomHex(32);
    await sql`INSERT INTO app_tokens (token_hash, user_id, created_at, expires_at)
              VALUES (${sha256Hex(token)}, ${userId}, ${now}, ${ttl ? now + ttl : null})`;
    return token;
  };
  return {
    async create(name, now, ttl) {
      const id = randomHex(10);
      await sql`INSERT INTO app_users (id, name, created_at) VALUES (${id}, ${name}, ${now})`;
      return { user: { id, name, createdAt: now, ocid: null }, token: await issueToken(id, now, ttl) };
    },
    async rotateToken(userId, now, ttl) {
      await sql`UPDATE app_tokens SET revoked_at = ${now} WHERE user_id = ${userId} AND revoked_at IS NULL`;
      return issueToken(userId, now, ttl);
    },
    byName: async (name) => userOrNull(await sql`SELECT * FROM app_users WHERE name = ${name}`),
    byId: async (id) => userOrNull(await sql`SELECT * FROM app_users WHERE id = ${id}`),
    list: async () => (await sql`SELECT * FROM app_users ORDER BY created_at, name`).map(toUser),
    async setFrozen(id, at) {
      const r = await sql`UPDATE app_users SET frozen_at = ${at}
        WHERE id = ${id} AND (frozen_at IS NULL) = (${at}::bigint IS NOT NULL)`;
      return r.count === 1;
    },
    async frozenAt(id) {
      const [r] = await sql`SELECT frozen_at FROM app_users WHERE id = ${id}`;
      return r ? num(r.frozen_at) : null;
    },
    async page(after, limit) {
      const rows = await sql`SELECT rowid, id, name, created_at, ocid FROM app_users WHERE rowid > ${after}
        ORDER BY rowid LIMIT ${limit}`;
      return rows.map((r: PgRow) => ({ ...toUser(r), cursor: Number(r.rowid) }));
    },
    byOcid: async (ocid) => userOrNull(await sql`SELECT * FROM app_users WHERE ocid = ${ocid}`),
    async setOcid(userId, ocid) {
      return (await sql`UPDATE app_users SET ocid = ${ocid} WHERE id = ${userId}`).count === 1;
    },
  };
}
