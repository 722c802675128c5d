// What every Postgres repository shares: rows in the shapes the SQLite repositories give (the port's types are
// derived from those). Bun.SQL with `bigint: true` returns every BIGINT column as a BigInt; bun:sqlite returns
// integers as JS numbers unless a statement asks for BigInt (money does). So a raw row (snake_case, as some
// repositories still hand out) gets numbers for ids, times, counters and flags and keeps BigInt only for the
// money columns named. The engine's connection must use `bigint: true` (./engine.ts checks it): without it the
// driver answers BIGINT as strings and a comparison like `row.attempts > 3` would silently compare text.
import { camel } from "../records";

export type PgRow = Record<string, unknown>;

/**
 * A row as its record (../records.ts): camelCase names, numbers for integers, BigInt only for the `money` columns
 * (named as the database spells them), in one pass over the row.
 */
export const pgRecord = <T>(r: PgRow, money: readonly string[] = []): T =>
  // SQLite's `*` never includes its implicit rowid; the Postgres tables that declare one (./schema.sql) would.
  camel(r, money, "rowid") as T;

/** The first row as its record, or null. */
export const pgRecordOrNull = <T>(rows: readonly PgRow[], money: readonly string[] = []): T | null =>
  rows.length === 0 ? null : pgRecord<T>(rows[0]!, money);

/** Every row as its record. */
export const pgRecords = <T>(rows: readonly PgRow[], money: readonly string[] = []): T[] =>
  rows.map((r) => pgRecord<T>(r, money));

/** A raw row as bun:sqlite gives it: BigInt only for the `money` columns, numbers for every other integer. */
export function sqliteShape<T>(r: PgRow, money: readonly string[] = []): T {
  const out: PgRow = {};
  // SQLite's `*` never includes its implicit rowid; the Postgres tables that declare one (./schema.sql) would.
  for (const [k, v] of Object.entries(r))
    if (k !== "rowid") out[k] = typeof v === "bigint" && !money.includes(k) ? Number(v) : v;
  return out as T;
}

/** The first row in SQLite's shape, or null (bun:sqlite's `get` answers null for no row). */
export function firstRow<T>(rows: readonly PgRow[], money: readonly string[] = []): T | null {
  return rows.length === 0 ? null : sqliteShape<T>(rows[0]!, money);
}

/** Every row in SQLite's shape. */
export function allRows<T>(rows: readonly PgRow[], money: readonly string[] = []): T[] {
  return rows.map((r) => sqliteShape<T>(r, money));
}

/** An integer column as a number (null stays null). */
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** SQLite's `changes` of a statement: how many rows it wrote. */
export const changed = (r: { count: number }): number => r.count;
