// Values as the Postgres engine's records carry them, whatever the pool's options: Bun.SQL returns BIGINT as a
// bigint with `bigint: true` and as a string without, and SUM() over BIGINT as NUMERIC (a string). The records match
// the SQLite repositories': numbers for ids, times, counts and flags, bigint for money, null where SQL says NULL.
type Integer = bigint | number | string;

export const int = (v: unknown): number => Number(v as Integer);
export const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as Integer));
export const money = (v: unknown): bigint => BigInt(v as Integer);
export const moneyOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as Integer));

/** A row with its integer columns `cols` as numbers (NULL stays null); every other column as it came. */
export function withInts<T>(row: Record<string, unknown>, cols: readonly string[]): T {
  const out: Record<string, unknown> = { ...row };
  for (const c of cols) out[c] = intOrNull(row[c]);
  return out as T;
}

/**
 * pg_advisory_xact_lock classes (the two-int4 form, a key space apart from the one-bigint form the schema lock
 * uses): where SQLite's single writer made a read-then-write one decision, these serialise the few transactions
 * that decide about the same thing, and hold until their commit.
 */
export const LOCK_CLASS = {
  /** One order's refunds: the cap check (`totals`) and every insert. */
  refunds: 0x6f6301,
  /** One account's spending in one currency: the per-day limit check (`spentSince`). */
  spending: 0x6f6302,
} as const;
