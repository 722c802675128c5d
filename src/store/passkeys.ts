// Issue 22 passkeys (WebAuthn credentials) and the server-side challenges they answer: one row per challenge,
// deleted by the one request that uses it (single use), refused after its expiry.
import type { Database } from "bun:sqlite";
import { camelAll, camelOrNull, type Camel } from "./records";

type Row = {
  id: string;
  user_id: string;
  name: string;
  public_key: Uint8Array;
  counter: number;
  transports: string;
  device_type: string;
  backed_up: number;
  created_at: number;
  last_used_at: number | null;
};
export type PasskeyRow = Camel<Row>;

export type ChallengePurpose = "register" | "signin";
type ChallengeColumns = {
  challenge: string;
  purpose: ChallengePurpose;
  user_id: string | null;
  token_hash: string | null;
};
export type ChallengeRow = Camel<ChallengeColumns>;

export function passkeys(db: Database) {
  const insert = db.query(
    `INSERT INTO passkeys (id, user_id, name, public_key, counter, transports, device_type, backed_up, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.query<Row, [string]>("SELECT * FROM passkeys WHERE id = ?");
  const forUser = db.query<Row, [string]>("SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at, rowid");
  const remove = db.query("DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2");
  // Conditional on the counter read before verifying: two sign-ins racing with one assertion cannot both win.
  const used = db.query("UPDATE passkeys SET counter = ?3, last_used_at = ?4 WHERE id = ?1 AND counter = ?2");
  const saveChallenge = db.query(
    `INSERT INTO webauthn_challenges (challenge, purpose, user_id, token_hash, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const takeChallenge = db.query<ChallengeColumns, [string, string, number]>(
    `DELETE FROM webauthn_challenges WHERE challenge = ?1 AND purpose = ?2 AND expires_at >= ?3
     RETURNING challenge, purpose, user_id, token_hash`,
  );
  const purge = db.query("DELETE FROM webauthn_challenges WHERE expires_at < ?");
  const live = db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM webauthn_challenges WHERE purpose = ?");

  return {
    insert: (p: Omit<PasskeyRow, "lastUsedAt">): void =>
      void insert.run(
        p.id,
        p.userId,
        p.name,
        p.publicKey,
        p.counter,
        p.transports,
        p.deviceType,
        p.backedUp,
        p.createdAt,
      ),
    byId: (id: string) => camelOrNull(byId.get(id)),
    forUser: (userId: string) => camelAll(forUser.all(userId)),
    remove: (id: string, userId: string) => remove.run(id, userId).changes === 1,
    markUsed: (id: string, oldCounter: number, newCounter: number, now: number) =>
      used.run(id, oldCounter, newCounter, now).changes === 1,
    saveChallenge(c: ChallengeRow, now: number, ttl: number): void {
      purge.run(now);
      saveChallenge.run(c.challenge, c.purpose, c.userId, c.tokenHash, now, now + ttl);
    },
    /** The challenge row, deleted in the same statement (so only one caller ever gets it), or null. */
    takeChallenge: (challenge: string, purpose: ChallengePurpose, now: number) =>
      camelOrNull(takeChallenge.get(challenge, purpose, now)),
    liveChallenges: (purpose: ChallengePurpose) => live.get(purpose)?.n ?? 0,
  };
}
export type Passkeys = ReturnType<typeof passkeys>;
