// Records at the store's edge are camelCase; the database spells its columns snake_case. Each record's shape is
// written once, as the row a statement reads (private to its repository); the exported record is that row with its
// names mapped (`Camel<Row>`, checked by tsc), and `camel` is the one runtime mapper, applied where a row leaves a
// repository. Measured per order row (25 columns) on bun:sqlite: ~0.4 µs, less than the rest-spread it replaced
// there; SQL column aliases would cost nothing but spell every column list twice. The PostgreSQL engine renames in
// the pass that already turns its BIGINTs into numbers (./postgres/rows.ts).

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

/** A row as its record. */
export function camel<Row extends object>(row: Row): Camel<Row> {
  const out: Record<string, unknown> = {};
  for (const column in row) out[camelName(column)] = row[column];
  return out as Camel<Row>;
}

/** bun:sqlite's `get` answers null for no row; so does this. */
export const camelOrNull = <Row extends object>(row: Row | null | undefined): Camel<Row> | null =>
  row ? camel(row) : null;
