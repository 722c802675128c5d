// Issue 16 per-user limits on PostgreSQL (the SQLite twin: ../limits.ts). `spentSince` is read to check the
// per-day limit before a debit; on SQLite the single writer makes check and debit one decision, here two
// transactions of the same account could both read the sum before either debits. So it first takes the account's
// spending lock (held to commit): a second checker waits, and its sum (a new statement, READ COMMITTED) then
// includes the first one's committed entries.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { LIMIT_NAMES, RETURNED_REASON, SPENDING_REASONS, type LimitName, type LimitSet } from "../../domain/limits";
import { LOCK_CLASS, money } from "./values";
import { LIMIT_MONEY, type UserLimit } from "../limits";
import { pgRecords } from "./rows";

export function pgLimits(sql: SQL): Tx["limits"] {
  const spending = [...SPENDING_REASONS];
  return {
    async forUser(userId, currency) {
      const out: LimitSet = {};
      const rows =
        await sql`SELECT limit_name, max FROM user_limits WHERE user_id = ${userId} AND currency = ${currency}`;
      for (const r of rows)
        if ((LIMIT_NAMES as readonly string[]).includes(r.limit_name)) out[r.limit_name as LimitName] = money(r.max);
      return out;
    },
    async allForUser(userId) {
      const rows = await sql`SELECT currency, limit_name, max FROM user_limits WHERE user_id = ${userId}
        ORDER BY currency COLLATE "C", limit_name COLLATE "C"`;
      return pgRecords<UserLimit>(rows, LIMIT_MONEY);
    },
    async set(userId, currency, name, max, now) {
      if (max === null)
        await sql`DELETE FROM user_limits WHERE user_id = ${userId} AND currency = ${currency}
          AND limit_name = ${name}`;
      else
        await sql`INSERT INTO user_limits (user_id, currency, limit_name, max, updated_at)
          VALUES (${userId}, ${currency}, ${name}, ${max}, ${now})
          ON CONFLICT (user_id, currency, limit_name)
            DO UPDATE SET max = excluded.max, updated_at = excluded.updated_at`;
    },
    async spentSince(account, currency, since) {
      await sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS.spending}, hashtext(${account + "\n" + currency}))`;
      const [r] = await sql`SELECT SUM(CASE WHEN delta < 0 AND reason = ANY(${spending}::text[]) THEN -delta
                       WHEN delta > 0 AND reason = ${RETURNED_REASON} THEN -delta ELSE 0 END)::text AS s
        FROM ledger_entries WHERE account = ${account} AND currency = ${currency} AND created_at >= ${since}`;
      const s = r.s === null ? 0n : money(r.s);
      return s < 0n ? 0n : s;
    },
  };
}
