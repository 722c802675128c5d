// Issue 21: KYC state, grant statuses and pinned tiers. No personal data is stored: a grant row says whether the
// provider's data signature covered that grant, until when, and the hash of the signed bytes.
import type { Database } from "bun:sqlite";
import { camelOrNull, type Camel } from "./records";

export type KycStart = {
  userId: string;
  provider: number;
  userOcid: number;
  grants: string[];
  expiresAt: number;
  usedAt: number | null;
};
export type GrantRow = {
  provider: number;
  grant: string;
  status: string;
  verified: boolean;
  expiresAt: number | null;
  dataHash: string | null;
  signedForm: string | null;
  checkedAt: number;
};
type GrantDb = {
  provider: number;
  grant_name: string;
  status: string;
  verified: number;
  expires_at: number | null;
  data_hash: string | null;
  signed_form: string | null;
  checked_at: number;
};

type PinColumns = { tier: string; set_by: string; set_at: number };
/** The tier an operator pinned a user to, by whom and when. */
export type PinnedTier = Camel<PinColumns>;

export function kyc(db: Database) {
  const putState = db.query(
    "INSERT INTO kyc_states (state_hash, user_id, provider, user_ocid, grants, created_at, expires_at) VALUES (?, " +
      "?, ?, ?, ?, ?, ?)",
  );
  const getState = db.query<
    {
      user_id: string;
      provider: number;
      user_ocid: number;
      grants: string;
      expires_at: number;
      used_at: number | null;
    },
    [string]
  >("SELECT user_id, provider, user_ocid, grants, expires_at, used_at FROM kyc_states WHERE state_hash = ?");
  // Single use: only the first UPDATE of an unused state changes a row.
  const useState = db.query("UPDATE kyc_states SET used_at = ?2 WHERE state_hash = ?1 AND used_at IS NULL");
  const dropOld = db.query("DELETE FROM kyc_states WHERE expires_at < ?");
  const putGrant = db.query(
    `INSERT INTO kyc_grants (user_id, provider, grant_name, status, verified, expires_at, data_hash, signed_form,
       checked_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (user_id, provider, grant_name) DO UPDATE SET status = excluded.status, verified = excluded.verified,
       expires_at = excluded.expires_at, data_hash = excluded.data_hash, signed_form = excluded.signed_form,
       checked_at = excluded.checked_at`,
  );
  const grants = db.query<GrantDb, [string]>(
    "SELECT * FROM kyc_grants WHERE user_id = ? ORDER BY grant_name, provider",
  );
  const verified = db.query<{ grant_name: string }, [string, number]>(
    "SELECT DISTINCT grant_name FROM kyc_grants WHERE user_id = ? AND status = 'granted' AND verified = 1 AND " +
      "expires_at > ?",
  );
  const pinned = db.query<PinColumns, [string]>("SELECT tier, set_by, set_at FROM user_tiers WHERE user_id = ?");
  const pin = db.query(
    "INSERT INTO user_tiers (user_id, tier, set_by, set_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE " +
      "SET tier = excluded.tier, set_by = excluded.set_by, set_at = excluded.set_at",
  );
  const unpin = db.query("DELETE FROM user_tiers WHERE user_id = ?");
  return {
    addStart(stateHash: string, s: Omit<KycStart, "usedAt">, now: number): void {
      dropOld.run(now - 86400);
      putState.run(stateHash, s.userId, s.provider, s.userOcid, JSON.stringify(s.grants), now, s.expiresAt);
    },
    start(stateHash: string): KycStart | null {
      const r = getState.get(stateHash);
      return (
        r && {
          userId: r.user_id,
          provider: r.provider,
          userOcid: r.user_ocid,
          grants: JSON.parse(r.grants),
          expiresAt: r.expires_at,
          usedAt: r.used_at,
        }
      );
    },
    /** True for the one caller that used it (call inside a transaction). */
    useStart: (stateHash: string, now: number): boolean => useState.run(stateHash, now).changes === 1,
    putGrant(userId: string, g: Omit<GrantRow, "checkedAt">, now: number): void {
      putGrant.run(
        userId,
        g.provider,
        g.grant,
        g.status,
        g.verified ? 1 : 0,
        g.expiresAt,
        g.dataHash,
        g.signedForm,
        now,
      );
    },
    grants: (userId: string): GrantRow[] =>
      grants.all(userId).map((r) => ({
        provider: r.provider,
        grant: r.grant_name,
        status: r.status,
        verified: r.verified === 1,
        expiresAt: r.expires_at,
        dataHash: r.data_hash,
        signedForm: r.signed_form,
        checkedAt: r.checked_at,
      })),
    /** Grants that count for a tier at `now`: granted, covered by a verified data signature, not expired. */
    verifiedGrants: (userId: string, now: number): Set<string> =>
      new Set(verified.all(userId, now).map((r) => r.grant_name)),
    pinned: (userId: string): PinnedTier | null => camelOrNull(pinned.get(userId)),
    /** Call inside a transaction. null removes the pin. */
    setPinned(userId: string, tier: string | null, actor: string, now: number): void {
      if (tier === null) unpin.run(userId);
      else pin.run(userId, tier, actor, now);
    },
  };
}
export type Kyc = ReturnType<typeof kyc>;
