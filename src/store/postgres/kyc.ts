// Issue 21 KYC states, grants and pinned tiers on PostgreSQL (the SQLite twin: ../kyc.ts). A start is used once:
// only the first UPDATE of an unused state changes its row (a racing one waits, then finds used_at set).
import type { SQL } from "bun";
import type { Tx } from "../index";
import { int, intOrNull } from "./values";
import type { PinnedTier } from "../kyc";
import { pgRecordOrNull } from "./rows";

const DAY = 86400;

export function pgKyc(sql: SQL): Tx["kyc"] {
  return {
    async addStart(stateHash, s, now) {
      await sql`DELETE FROM kyc_states WHERE expires_at < ${now - DAY}`;
      await sql`INSERT INTO kyc_states (state_hash, user_id, provider, user_ocid, grants, created_at, expires_at)
        VALUES (${stateHash}, ${s.userId}, ${s.provider}, ${s.userOcid}, ${JSON.stringify(s.grants)}, ${now},
          ${s.expiresAt})`;
    },
    async start(stateHash) {
      const [r] = await sql`SELECT user_id, provider, user_ocid, grants, expires_at, used_at FROM kyc_states
        WHERE state_hash = ${stateHash}`;
      return r
        ? {
            userId: r.user_id,
            provider: int(r.provider),
            userOcid: int(r.user_ocid),
            grants: JSON.parse(r.grants),
            expiresAt: int(r.expires_at),
            usedAt: intOrNull(r.used_at),
          }
        : null;
    },
    async useStart(stateHash, now) {
      const rows = await sql`UPDATE kyc_states SET used_at = ${now} WHERE state_hash = ${stateHash} AND used_at IS NULL
        RETURNING 1`;
      return rows.length === 1;
    },
    async putGrant(userId, g, now) {
      await sql`INSERT INTO kyc_grants (user_id, provider, grant_name, status, verified, expires_at, data_hash,
          signed_form, checked_at)
        VALUES (${userId}, ${g.provider}, ${g.grant}, ${g.status}, ${g.verified ? 1 : 0}, ${g.expiresAt}, ${g.dataHash},
          ${g.signedForm}, ${now})
        ON CONFLICT (user_id, provider, grant_name) DO UPDATE SET status = excluded.status,
          verified = excluded.verified, expires_at = excluded.expires_at, data_hash = excluded.data_hash,
          signed_form = excluded.signed_form, checked_at = excluded.checked_at`;
    },
    async grants(userId) {
      const rows = await sql`SELECT provider, grant_name, status, verified, expires_at, data_hash, signed_form,
          checked_at
        FROM kyc_grants WHERE user_id = ${userId} ORDER BY grant_name COLLATE "C", provider`;
      return rows.map((r: Record<string, unknown>) => ({
        provider: int(r.provider),
        grant: r.grant_name as string,
        status: r.status as string,
        verified: int(r.verified) === 1,
        expiresAt: intOrNull(r.expires_at),
        dataHash: r.data_hash as string | null,
        signedForm: r.signed_form as string | null,
        checkedAt: int(r.checked_at),
      }));
    },
    async verifiedGrants(userId, now) {
      const rows = await sql`SELECT DISTINCT grant_name FROM kyc_grants
        WHERE user_id = ${userId} AND status = 'granted' AND verified = 1 AND expires_at > ${now}`;
      return new Set(rows.map((r: { grant_name: string }) => r.grant_name));
    },
    pinned: async (userId) =>
      pgRecordOrNull<PinnedTier>(await sql`SELECT tier, set_by, set_at FROM user_tiers WHERE user_id = ${userId}`),
    async setPinned(userId, tier, actor, now) {
      if (tier === null) await sql`DELETE FROM user_tiers WHERE user_id = ${userId}`;
      else
        await sql`INSERT INTO user_tiers (user_id, tier, set_by, set_at) VALUES (${userId}, ${tier}, ${actor}, ${now})
          ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, set_by = excluded.set_by, set_at = excluded.set_at`;
    },
  };
}
