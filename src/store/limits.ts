// Issue 16: per-user limits (one row per user, currency and limit name) and the facts limits are checked against.
import type { Database } from "bun:sqlite";
import { camelAll, type Camel } from "./records";
import { LIMIT_NAMES, RETURNED_REASON, SPENDING_REASONS, type LimitName, type LimitSet } from "../domain/limits";

type LimitColumns = { currency: string; limit_name: string; max: bigint };
/** One limit the operator set for a user in one currency (`limitName` as stored: unknown names are kept). */
export type UserLimit = Camel<LimitColumns>;
export const LIMIT_MONEY = ["max"] as const;

export function limits(db: Database) {
  const forUser = db.query<{ limit_name: string; max: bigint }, [string, string]>(
    "SELECT limit_name, max FROM user_limits WHERE user_id = ? AND currency = ?",
  );
  forUser.safeIntegers(true);
  const all = db.query<LimitColumns, [string]>(
    "SELECT currency, limit_name, max FROM user_limits WHERE user_id = ? ORDER BY currency, limit_name",
  );
  all.safeIntegers(true);
  const upsert = db.query(
    `INSERT INTO user_limits (user_id, currency, limit_name, max, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (user_id, currency, limit_name) DO UPDATE SET max = excluded.max, updated_at = excluded.updated_at`,
  );
  const remove = db.query("DELETE FROM user_limits WHERE user_id = ? AND currency = ? AND limit_name = ?");
  const spending = SPENDING_REASONS.map((r) => `'${r}'`).join(",");
  const spent = db.query<{ s: bigint | null }, [string, string, number]>(
    `SELECT SUM(CASE WHEN delta < 0 AND reason IN (${spending}) THEN -delta
                     WHEN delta > 0 AND reason = '${RETURNED_REASON}' THEN -delta ELSE 0 END) AS s
     FROM ledger_entries WHERE account = ?1 AND currency = ?2 AND created_at >= ?3`,
  );
  spent.safeIntegers(true);
  return {
    forUser(userId: string, currency: string): LimitSet {
      const out: LimitSet = {};
      for (const r of forUser.all(userId, currency))
        if ((LIMIT_NAMES as readonly string[]).includes(r.limit_name)) out[r.limit_name as LimitName] = r.max;
      return out;
    },
    allForUser: (userId: string): UserLimit[] => camelAll(all.all(userId), LIMIT_MONEY),
    /** Call inside a transaction. `max` null removes the limit. */
    set(userId: string, currency: string, name: LimitName, max: bigint | null, now: number): void {
      if (max === null) remove.run(userId, currency, name);
      else upsert.run(userId, currency, name, max, now);
    },
    spentSince(account: string, currency: string, since: number): bigint {
      const s = spent.get(account, currency, since)?.s ?? 0n;
      return s < 0n ? 0n : s;
    },
  };
}
export type Limits = ReturnType<typeof limits>;
