// Issue 22 passkeys and WebAuthn challenges on PostgreSQL (the SQLite twin: ../passkeys.ts). The single-use rules
// are conditional statements, so they hold under concurrent transactions as they do under SQLite's single writer:
// `markUsed` changes the row only at the counter read before verifying (a racing sign-in waits on the row, then
// finds the counter moved), `takeChallenge` deletes and returns in one statement (a second taker waits, then finds
// nothing).
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { ChallengeRow, PasskeyRow } from "../passkeys";
import { int } from "./values";
import { pgRecord, pgRecordOrNull, type PgRow } from "./rows";

const passkey = (r: PgRow): PasskeyRow => {
  const p = pgRecord<PasskeyRow>(r);
  p.publicKey = new Uint8Array(p.publicKey); // BYTEA arrives as a Buffer; SQLite gives a Uint8Array
  return p;
};

export function pgPasskeys(sql: SQL): Tx["passkeys"] {
  const columns = sql`id, user_id, name, public_key, counter, transports, device_type, backed_up, created_at,
    last_used_at`;
  return {
    async insert(p) {
      await sql`INSERT INTO passkeys (id, user_id, name, public_key, counter, transports, device_type, backed_up,
          created_at)
        VALUES (${p.id}, ${p.userId}, ${p.name}, ${p.publicKey}, ${p.counter}, ${p.transports}, ${p.deviceType},
          ${p.backedUp}, ${p.createdAt})`;
    },
    async byId(id) {
      const [r] = await sql`SELECT ${columns} FROM passkeys WHERE id = ${id}`;
      return r ? passkey(r) : null;
    },
    async forUser(userId) {
      const rows = await sql`SELECT ${columns} FROM passkeys WHERE user_id = ${userId} ORDER BY created_at, rowid`;
      return rows.map(passkey);
    },
    async remove(id, userId) {
      return (await sql`DELETE FROM passkeys WHERE id = ${id} AND user_id = ${userId} RETURNING 1`).length === 1;
    },
    async markUsed(id, oldCounter, newCounter, now) {
      const rows = await sql`UPDATE passkeys SET counter = ${newCounter}, last_used_at = ${now}
        WHERE id = ${id} AND counter = ${oldCounter} RETURNING 1`;
      return rows.length === 1;
    },
    async saveChallenge(c, now, ttl) {
      await sql`DELETE FROM webauthn_challenges WHERE expires_at < ${now}`;
      await sql`INSERT INTO webauthn_challenges (challenge, purpose, user_id, token_hash, created_at, expires_at)
        VALUES (${c.challenge}, ${c.purpose}, ${c.userId}, ${c.tokenHash}, ${now}, ${now + ttl})`;
    },
    async takeChallenge(challenge, purpose, now) {
      return pgRecordOrNull<ChallengeRow>(
        await sql`DELETE FROM webauthn_challenges
          WHERE challenge = ${challenge} AND purpose = ${purpose} AND expires_at >= ${now}
          RETURNING challenge, purpose, user_id, token_hash`,
      );
    },
    async liveChallenges(purpose) {
      const [r] = await sql`SELECT COUNT(*) AS n FROM webauthn_challenges WHERE purpose = ${purpose}`;
      return int(r.n);
    },
  };
}
