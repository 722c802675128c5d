// Reading a test gateway's database on either engine (issue 18 item 6), from a connection of its own as another
// process would: the SQLite file in the data dir, or the gateway's PostgreSQL database. For suites that run on both
// engines and check rows the HTTP surface does not show. Statements use `?` placeholders (SQLite's); on PostgreSQL
// they become $1, $2, …. Integers come back as numbers, as bun:sqlite answers them (a bigint beyond 2^53 stays one).
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { createHash } from "node:crypto";
import { databasePath } from "../../src/store/data-dir";
import { balanceRows } from "../../src/domain/ledger-accounts";
import type { PortTestGateway } from "./gateway";

type Where = Pick<PortTestGateway, "dataDir"> & { gw: { config: { databaseUrl?: string } } };
type Row = Record<string, unknown>;

const asNumbers = (r: Row): Row =>
  Object.fromEntries(
    Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" && Number.isSafeInteger(Number(v)) ? Number(v) : v]),
  );

type Reader = { all: (text: string, params: unknown[]) => Promise<Row[]>; close: () => Promise<void> };

/** One connection to the gateway's database, closed by the caller. */
function reader(tg: Where): Reader {
  const url = tg.gw.config.databaseUrl;
  if (!url) {
    const db = new Database(databasePath(tg.dataDir));
    return { all: async (text, params) => db.query(text).all(...(params as never[])) as Row[], close: async () => db.close() };
  }
  const sql = new SQL(url, { bigint: true, max: 1 });
  return {
    all: async (text, params) => {
      let n = 0;
      const out = await sql.unsafe(text.replace(/\?/g, () => `$${++n}`), params as never[]);
      return [...out].map((r: Row) => asNumbers(r));
    },
    close: () => sql.close(),
  };
}

/** A connection kept open for many reads (a check around each of thousands of requests); `close` ends it. */
export function dbReader(tg: Where): DbReader {
  const r = reader(tg);
  return { rows: async <T = Row>(text: string, ...params: unknown[]) => (await r.all(text, params)) as T[], close: r.close };
}
export type DbReader = { rows: <T = Row>(text: string, ...params: unknown[]) => Promise<T[]>; close: () => Promise<void> };

/** Every row `text` selects. */
export async function dbRows<T = Row>(tg: Where, text: string, ...params: unknown[]): Promise<T[]> {
  const r = reader(tg);
  try {
    return (await r.all(text, params)) as T[];
  } finally {
    await r.close();
  }
}

/** The first row `text` selects, if any. */
export const dbRow = async <T = Row>(tg: Where, text: string, ...params: unknown[]): Promise<T | undefined> =>
  (await dbRows<T>(tg, text, ...params))[0];

/** Tables background timers write whatever a request does (as helpers/wallet.ts dbDigest skips them). */
const BOOKKEEPING = ["nonces", "metadata_cache", "peer_dialects", "sqlite_sequence", "scheduler_lease", "health_probe"];

/**
 * SHA-256 over every row of every table (equal digests = nothing changed), on either engine; through `via` (a
 * dbReader of the same gateway) when the caller takes many, else a connection of its own.
 */
export async function dbDigestOf(tg: Where, skip: string[] = BOOKKEEPING, via?: DbReader): Promise<string> {
  const r: Reader = via ? { all: (text, params) => via.rows(text, ...params), close: async () => {} } : reader(tg);
  try {
    const tables = (await r.all(
      tg.gw.config.databaseUrl
        ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' " +
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      [],
    )) as { name: string }[];
    const h = createHash("sha256");
    const names = tables.map((t) => t.name).filter((name) => !skip.includes(name) && name !== "event_outbox");
    if (tg.gw.config.databaseUrl && names.length > 0) {
      // One round trip: each table's rows (as PostgreSQL prints them, sorted) hashed by the server, where a statement
      // per table cost 40 of them per digest (a hostile-input suite takes a thousand digests).
      const perTable = names.map(
        (name) => `SELECT '${name}' AS name, md5(COALESCE(string_agg(oc_row::text, E'\\n' ORDER BY oc_row::text), '')) AS h FROM "${name}" oc_row`,
      );
      for (const row of await r.all(perTable.join(" UNION ALL ") + " ORDER BY name", [])) h.update(`#${row.name}\n${row.h}\n`);
      return h.digest("hex");
    }
    for (const name of names) {
      h.update(`#${name}\n`);
      for (const row of await r.all(`SELECT * FROM "${name}" ORDER BY 1, 2`, []))
        h.update(JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
    }
    return h.digest("hex");
  } finally {
    await r.close();
  }
}

/** An account's balance as the books keep it (the in-flight account is sharded over several rows), on either engine. */
export async function dbBalance(tg: Where, account: string, currency = "USD"): Promise<bigint> {
  const rows = balanceRows(account);
  const r = await dbRow<{ b: string }>(
    tg,
    `SELECT CAST(COALESCE(SUM(balance), 0) AS TEXT) AS b FROM accounts WHERE account IN (${rows.map(() => "?").join(", ")}) AND currency = ?`,
    ...rows,
    currency,
  );
  return BigInt(r!.b);
}

/** Runs a statement from a connection of its own, as another process would (its rows, if it returns any). */
export const dbRun = (tg: Where, text: string, ...params: unknown[]): Promise<Row[]> => dbRows(tg, text, ...params);
