// Records at the store's edge are camelCase; the database spells its columns snake_case. Each record's shape is
// written once, as the row a statement reads (private to its repository); the exported record is that row with its
// names mapped (`Camel<Row>`, checked by tsc), and `camel` is the one runtime mapper, applied where a row leaves a
// repository. Money stays BigInt on both engines the same way: a statement that reads money asks for every integer
// as a BigInt (bun:sqlite's safeIntegers; Bun.SQL's `bigint: true` always does) and the mapper turns every
// integer but the money columns named back into a number, in the same pass. Measured per order row (25 columns)
// on bun:sqlite: ~0.4 µs, less than the TEXT cast and rest-spread the order record paid before; SQL column
// aliases would cost nothing at run time but spell every column list twice.

/** `final_txid` → `finalTxid` (a name without `_` is itself). */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** A row's record: every column name camelCased, types and optionality unchanged. */
export type Camel<Row> = { [K in keyof Row as K extends string ? CamelCase<K> : K]: Row[K] };

const SNAKE_TAIL = /_([a-z0-9])/g;
/** Column names seen so far and their record names: a handful of tables, so the map stays small. */
const names = new Map<string, string>();

/** The record name of one column (`final_txid` → `finalTxid`). */
export function camelName(column: string): string {
  let name = names.get(column);
  if (name === undefined) {
    name = column.replace(SNAKE_TAIL, (_, c: string) => c.toUpperCase());
    names.set(column, name);
  }
  return name;
}

const NO_MONEY: readonly string[] = [];

/**
 * A row as its record: names camelCased; an integer read as a BigInt becomes a number unless its column is one of
 * `money`; `hidden` (a column the engine adds to `SELECT *`) is left out.
 */
export function camel<Row extends object>(row: Row, money: readonly string[] = NO_MONEY, hidden?: string): Camel<Row> {
  const out: Record<string, unknown> = {};
  for (const column in row) {
    if (column === hidden) continue;
    const v: unknown = row[column];
    out[camelName(column)] = typeof v === "bigint" && !money.includes(column) ? Number(v) : v;
  }
  return out as Camel<Row>;
}

/** bun:sqlite's `get` answers null for no row; so does this. */
export const camelOrNull = <Row extends object>(
  row: Row | null | undefined,
  money: readonly string[] = NO_MONEY,
): Camel<Row> | null => (row ? camel(row, money) : null);

/** Every row as its record. */
export const camelAll = <Row extends object>(rows: readonly Row[], money: readonly string[] = NO_MONEY): Camel<Row>[] =>
  rows.map((r) => camel(r, money));

/**
 * A record spelt as the database spells it (`finalTxid` → `final_txid`), for an output that promised column names
 * (the CLI's JSON, which operators' scripts read). The inverse of `camel` for every column name the schema has.
 */
export function asStored(record: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(record)) out[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}
