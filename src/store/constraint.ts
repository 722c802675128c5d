// Database errors mapped by the constraint they violate, not by free message text. bun:sqlite reports the kind in
// its extended result code (SQLITE_CONSTRAINT_UNIQUE …) and names the target in SQLite's fixed form
// ("<KIND> constraint failed: table.column, table.column" or the CHECK's expression). A second engine maps its own
// codes (PostgreSQL: SQLSTATE 23505/23514/23503/23502 with table_name/column_name/constraint_name) to the same shape.

export type ConstraintKind = "unique" | "check" | "foreign_key" | "not_null";

export type ConstraintViolation = {
  kind: ConstraintKind;
  /** The table named by the violation, when the engine names one (SQLite does not for foreign keys). */
  table: string | null;
  columns: string[];
  /** A CHECK's expression (SQLite) or name (engines with named constraints). */
  check: string | null;
};

const KIND_BY_CODE: Record<string, ConstraintKind> = {
  SQLITE_CONSTRAINT_UNIQUE: "unique",
  SQLITE_CONSTRAINT_PRIMARYKEY: "unique",
  SQLITE_CONSTRAINT_CHECK: "check",
  SQLITE_CONSTRAINT_FOREIGNKEY: "foreign_key",
  SQLITE_CONSTRAINT_NOTNULL: "not_null",
};
const TARGET_SEPARATOR = "constraint failed: ";

/** PostgreSQL's SQLSTATEs (Bun.SQL's PostgresError.errno) for the same kinds. */
const KIND_BY_SQLSTATE: Record<string, ConstraintKind> = {
  "23505": "unique",
  "23514": "check",
  "23503": "foreign_key",
  "23502": "not_null",
};
/** The server's fixed report of a key, e.g. `Key (user_id, idempotency_key)=(a, b) already exists.` */
const PG_KEY_RE = /^Key \(([^)]*)\)=/;

type PgFields = { errno?: unknown; table?: unknown; column?: unknown; constraint?: unknown; detail?: unknown };

function postgresViolation(e: PgFields): ConstraintViolation | null {
  const kind = typeof e.errno === "string" ? KIND_BY_SQLSTATE[e.errno] : undefined;
  if (!kind) return null;
  const table = typeof e.table === "string" ? e.table : null;
  const constraint = typeof e.constraint === "string" ? e.constraint : null;
  if (kind === "check") return { kind, table, columns: [], check: constraint };
  const key = typeof e.detail === "string" ? PG_KEY_RE.exec(e.detail) : null;
  const columns = typeof e.column === "string" ? [e.column] : key ? key[1]!.split(",").map((c) => c.trim()) : [];
  return { kind, table, columns, check: null };
}

/** The violated constraint, or null when `e` is not a constraint violation. */
export function constraintViolation(e: unknown): ConstraintViolation | null {
  if (e === null || typeof e !== "object") return null;
  const pg = postgresViolation(e as PgFields);
  if (pg) return pg;
  const code = (e as { code?: unknown }).code;
  const kind = typeof code === "string" ? KIND_BY_CODE[code] : undefined;
  if (!kind) return null;
  const message = String((e as Error).message ?? "");
  const at = message.indexOf(TARGET_SEPARATOR);
  const target = at < 0 ? "" : message.slice(at + TARGET_SEPARATOR.length).trim();
  if (kind === "check") return { kind, table: null, columns: [], check: target || null };
  const refs = target ? target.split(",").map((s) => s.trim().split(".")) : [];
  const table = refs[0]?.length === 2 ? refs[0][0]! : null;
  return { kind, table, columns: refs.map((r) => r[r.length - 1]!), check: null };
}

/** A UNIQUE (or primary key) violation, optionally of `table` (and exactly `columns`, in any order). */
export function isUniqueViolation(e: unknown, table?: string, columns?: readonly string[]): boolean {
  const v = constraintViolation(e);
  if (v?.kind !== "unique") return false;
  if (table !== undefined && v.table !== table) return false;
  return columns === undefined || (columns.length === v.columns.length && columns.every((c) => v.columns.includes(c)));
}

/** The identifiers in a CHECK's expression (underscores belong to a name: `amount_minor` is one). */
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/g;

/**
 * A CHECK violation about `column`: SQLite reports the CHECK's expression (`typeof(amount_minor) = 'integer' …`),
 * which names the column as an identifier; PostgreSQL the constraint's name, by default `<table>_<column>_check`
 * (numbered when a column has several: `…_check1`).
 */
export function isCheckViolation(e: unknown, column: string): boolean {
  const v = constraintViolation(e);
  if (v?.kind !== "check" || v.check === null) return false;
  if (v.check.match(IDENTIFIER)?.includes(column)) return true;
  const named = `${v.table}_${column}_check`;
  return v.table !== null && v.check.startsWith(named) && /^\d*$/.test(v.check.slice(named.length));
}
