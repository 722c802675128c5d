// Issue 18: the PostgreSQL schema (src/store/postgres/schema.sql) is the SQLite one (schema.sql + every named
// migration, as openDatabase() builds it), table for table: columns (name, order, type class, nullability,
// default), primary keys, identity ids, CHECK'd value lists and other CHECKs, unique and partial indexes, foreign
// keys, triggers, the schema version and the migration ids. Both sides are read from the engines' own catalogs,
// so a SQLite migration without its Postgres translation (or the reverse) fails here. Then the translated
// triggers are run on both engines with the same rows and must write the same event log and refuse the same
// audit changes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import type { SQL } from "bun";
import { openDatabase, SCHEMA_VERSION } from "../../src/store/db";
import { MIGRATIONS } from "../../src/store/migrations";
import { migratePostgres } from "../../src/store/postgres/schema";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";
import { thrown } from "../helpers/settled";

type Column = { name: string; type: string; notNull: boolean; default: string | null };
type Table = {
  columns: Column[];
  primaryKey: string[];
  identity: string[];
  checks: string[];
  indexes: string[];
  foreignKeys: string[];
};
type Schema = { tables: Record<string, Table>; triggers: string[] };

/** One spelling for a default on both engines: no casts, no wrapping parentheses. */
const normDefault = (d: string | null): string | null =>
  d === null ? null : d.replace(/::[a-z ]+/g, "").replace(/^\((.*)\)$/, "$1").trim();

/** A predicate as a sorted list of terms: `col in [a,b]`, `col not null`, or the term with casts removed. */
function normPredicate(p: string): string {
  const s = p.replace(/::[a-z ]+(\[\])?/gi, "").replace(/\s+/g, " ").trim();
  const terms = s.split(/ AND /i).map((t) => {
    let x = t.trim();
    while (/^\(.*\)$/.test(x) && balanced(x.slice(1, -1))) x = x.slice(1, -1).trim();
    const list = (items: string) =>
      items
        .split(",")
        .map((v) => v.trim().replace(/^\((.*)\)$/, "$1").replace(/^'(.*)'$/, "$1"))
        .sort()
        .join(",");
    let m = /^(\w+) IN \((.*)\)$/i.exec(x);
    if (m) return `${m[1]} in [${list(m[2]!)}]`;
    m = /^(\w+) = ANY \(ARRAY\[(.*)\]\)$/i.exec(x);
    if (m) return `${m[1]} in [${list(m[2]!)}]`;
    m = /^(\w+) = '([^']*)'$/.exec(x);
    if (m) return `${m[1]} in [${m[2]}]`;
    m = /^(\w+) IS NOT NULL$/i.exec(x);
    if (m) return `${m[1]} not null`;
    return x.toLowerCase();
  });
  return terms.sort().join(" and ");
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    if (c === "(") depth++;
    if (c === ")" && --depth < 0) return false;
  }
  return depth === 0;
}

/** The CHECK (…) bodies in a CREATE TABLE statement, parentheses balanced. */
function checkBodies(createSql: string): string[] {
  const out: string[] = [];
  const re = /CHECK\s*\(/gi;
  for (let m = re.exec(createSql); m; m = re.exec(createSql)) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < createSql.length && depth > 0; i++) {
      if (createSql[i] === "(") depth++;
      if (createSql[i] === ")") depth--;
    }
    out.push(createSql.slice(start, i - 1));
  }
  return out;
}

/** SQLite's only integrity CHECK that Postgres enforces by type instead (BIGINT overflow raises). */
const dropTypeof = (p: string) =>
  p
    .split(/ and /)
    .filter((t) => !/^typeof\(/.test(t))
    .join(" and ");

function sqliteSchema(db: Database): Schema {
  const tables: Record<string, Table> = {};
  const objects = db
    .query<{ name: string; sql: string }, []>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all();
  for (const { name, sql } of objects) {
    const info = db
      .query<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }, []>(
        `PRAGMA table_info("${name}")`,
      )
      .all();
    const typeClass: Record<string, string> = { INTEGER: "integer", TEXT: "text", BLOB: "bytes" };
    const indexes: string[] = [];
    for (const ix of db
      .query<{ name: string; unique: number; origin: string; partial: number }, []>(`PRAGMA index_list("${name}")`)
      .all()) {
      if (ix.origin === "pk") continue;
      const cols = db
        .query<{ name: string }, []>(`PRAGMA index_info("${ix.name}")`)
        .all()
        .map((c) => c.name);
      const where = ix.partial
        ? / WHERE (.*)$/is.exec(
            db.query<{ sql: string }, [string]>("SELECT sql FROM sqlite_master WHERE name = ?").get(ix.name)!.sql,
          )![1]!
        : null;
      const label = ix.origin === "c" ? ix.name : "(constraint)";
      indexes.push(`${label} ${ix.unique ? "unique " : ""}(${cols.join(",")})${where ? " where " + normPredicate(where) : ""}`);
    }
    tables[name] = {
      columns: info.map((c) => ({
        name: c.name,
        type: typeClass[c.type.toUpperCase()] ?? `? ${c.type}`,
        // A primary key column is NOT NULL on Postgres; on SQLite only INTEGER PRIMARY KEY is (a legacy quirk), and
        // the gateway never writes NULL keys, so a key column counts as NOT NULL on both.
        notNull: c.notnull === 1 || c.pk > 0,
        default: normDefault(c.dflt_value),
      })),
      primaryKey: info
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name),
      identity: /AUTOINCREMENT/i.test(sql) ? info.filter((c) => c.pk > 0).map((c) => c.name) : [],
      checks: checkBodies(sql)
        .map((b) => dropTypeof(normPredicate(b)))
        .filter((c) => c !== "")
        .sort(),
      indexes: indexes.sort(),
      foreignKeys: db
        .query<{ table: string; from: string; to: string }, []>(`PRAGMA foreign_key_list("${name}")`)
        .all()
        .map((f) => `${f.from} -> ${f.table}(${f.to})`)
        .sort(),
    };
  }
  const triggers = db
    .query<{ name: string; tbl_name: string }, []>("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    .all()
    .map((t) => `${t.tbl_name}.${t.name}`)
    .sort();
  return { tables, triggers };
}

/** SQLite's implicit rowid, declared on Postgres where the store reads it (a last identity column, and its index). */
const ROWID = "rowid";
const isImplicitRowid = (c: { name: string; identity: string }) => c.name === ROWID && c.identity === "YES";

async function postgresSchema(sql: SQL): Promise<Schema> {
  const tables: Record<string, Table> = {};
  const names: { name: string }[] = await sql`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`;
  const typeClass: Record<string, string> = { bigint: "integer", text: "text", bytea: "bytes" };
  for (const { name } of names) {
    const cols: { name: string; type: string; nullable: string; dflt: string | null; identity: string }[] = (
      await sql`
      SELECT column_name AS name, data_type AS type, is_nullable AS nullable, column_default AS dflt,
             is_identity AS identity
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${name}
      ORDER BY ordinal_position`
    ).filter((c: { name: string; identity: string }) => !isImplicitRowid(c));
    const pk: { col: string }[] = await sql`
      SELECT a.attname AS col FROM pg_index i
      JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = ${name}::regclass AND i.indisprimary ORDER BY k.n`;
    const checks: { def: string }[] = await sql`
      SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = ${name}::regclass AND contype = 'c'`;
    const idx: { name: string; uniq: boolean; cols: string[]; pred: string | null; constraint: boolean }[] = await sql`
      SELECT c.relname AS name, i.indisunique AS uniq,
             ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS cols,
             pg_get_expr(i.indpred, i.indrelid) AS pred,
             EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype = 'u') AS constraint
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ${name}::regclass AND NOT i.indisprimary`;
    const fks: { def: string; col: string; reft: string; refc: string }[] = await sql`
      SELECT a.attname AS col, rt.relname AS reft, ra.attname AS refc
      FROM pg_constraint k
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
      JOIN pg_class rt ON rt.oid = k.confrelid
      JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
      WHERE k.conrelid = ${name}::regclass AND k.contype = 'f'`;
    tables[name] = {
      columns: cols.map((c) => ({
        name: c.name,
        type: typeClass[c.type] ?? `? ${c.type}`,
        notNull: c.nullable === "NO",
        default: normDefault(c.dflt),
      })),
      primaryKey: pk.map((p) => p.col),
      identity: cols.filter((c) => c.identity === "YES").map((c) => c.name),
      checks: checks.map((c) => normPredicate(/^CHECK \((.*)\)$/s.exec(c.def)![1]!)).sort(),
      indexes: idx
        .filter((i) => i.cols.join() !== ROWID)
        .map(
          (i) =>
            `${i.constraint ? "(constraint)" : i.name} ${i.uniq ? "unique " : ""}(${i.cols.join(",")})` +
            (i.pred ? " where " + normPredicate(i.pred) : ""),
        )
        .sort(),
      foreignKeys: fks.map((f) => `${f.col} -> ${f.reft}(${f.refc})`).sort(),
    };
  }
  const triggers: { t: string }[] = await sql`
    SELECT event_object_table || '.' || trigger_name AS t FROM information_schema.triggers
    WHERE trigger_schema = 'public' GROUP BY 1 ORDER BY 1`;
  return { tables, triggers: triggers.map((t) => t.t).sort() };
}

const run = postgresAvailable("postgres-schema.test.ts (Postgres side)");
const lite = openDatabase(":memory:");
let pg: TestDatabase;
let pgSchema: Schema;
const liteSchema = sqliteSchema(lite);

beforeAll(async () => {
  if (!run) return;
  pg = await freshDatabase("schema");
  await migratePostgres(pg.sql);
  pgSchema = await postgresSchema(pg.sql);
});
afterAll(async () => {
  await pg?.drop();
  lite.close();
});

test("the SQLite side reads sensibly (runs without Postgres): known tables, partial index, status CHECK", () => {
  expect(Object.keys(liteSchema.tables)).toContain("orders");
  expect(liteSchema.tables.orders!.indexes).toContain(
    "orders_active_unique unique (merchant_ocid,order_id) where status in [awaiting_confirmation,confirmed,in_review,paid]",
  );
  expect(liteSchema.tables.orders!.checks).toContain("sig_form in [deep,replacer]");
  expect(liteSchema.tables.accounts!.checks).toEqual([]); // typeof(balance) only: enforced by BIGINT on Postgres
  expect(liteSchema.tables.user_limits!.checks).toEqual(["max >= 0"]);
  expect(liteSchema.tables.orders!.identity).toEqual(["id"]);
});

/** Tables with no SQLite twin, and why: state only several nodes on one database need. */
const POSTGRES_ONLY: Record<string, string> = {
  gateway_identity: "the signing identity every node sharing the database must have (SQLite: one node per data dir)",
};

describe.skipIf(!run)("PostgreSQL schema = SQLite schema", () => {
  test("the same tables", () => {
    const shared = Object.keys(pgSchema.tables).filter((t) => !(t in POSTGRES_ONLY));
    expect(shared.sort()).toEqual(Object.keys(liteSchema.tables).sort());
    for (const t of Object.keys(POSTGRES_ONLY)) expect({ t, present: t in pgSchema.tables }).toEqual({ t, present: true });
  });

  test("every table: columns (order, type class, nullability, default), keys, identity ids, CHECKs, indexes, FKs", () => {
    for (const name of Object.keys(liteSchema.tables)) {
      // Compared one table at a time so a failure names the table.
      expect({ table: name, ...pgSchema.tables[name] }).toEqual({ table: name, ...liteSchema.tables[name]! });
    }
  });

  test("the same triggers on the same tables", () => {
    expect(pgSchema.triggers).toEqual(liteSchema.triggers);
  });

  test("one schema version: the base version and every named migration are recorded; a second start is a no-op", async () => {
    const [{ v, n }] = await pg.sql`SELECT MAX(version)::int AS v, COUNT(*)::int AS n FROM schema_version`;
    expect({ v, n }).toEqual({ v: SCHEMA_VERSION, n: 1 });
    const again = await migratePostgres(pg.sql);
    expect(again.created).toBe(false);
    expect(again.migrations).toEqual(MIGRATIONS.map((m) => m.id).sort());
  });

  test("a database missing a migration is refused with its name, never served", async () => {
    const other = await freshDatabase("schema_old");
    try {
      await migratePostgres(other.sql);
      await other.sql`DELETE FROM schema_migrations WHERE id = '21-kyc'`;
      expect(await thrown(migratePostgres(other.sql))).toThrow(/lacks migrations 21-kyc/);
      await other.sql`UPDATE schema_version SET version = ${SCHEMA_VERSION + 1}`;
      expect(await thrown(migratePostgres(other.sql))).toThrow(/is not this gateway's/);
    } finally {
      await other.drop();
    }
  });
});

describe.skipIf(!run)("the translated triggers behave as on SQLite", () => {
  /** The same writes, in $N form for Postgres and ?N for SQLite. */
  const writes: [string, unknown[]][] = [
    ["INSERT INTO app_users (id, name, created_at) VALUES ($1, $2, $3)", ["u1", "alice", 100]],
    [
      "INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at) VALUES ($1, 'qr', $2, 'pending', $3, $4)",
      ["s1", "u1", 100, 200],
    ],
    [
      `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json,
         amount, amount_minor, currency, user_id, status, confirm_deadline, candidates_json, received_at, updated_at)
       VALUES ($1, $2, $3, $4, '{}', 'sig', 'deep', '{}', '12.50', 1250, 'USD', $5, 'awaiting_confirmation', 300,
         '[]', 101, 101)`,
      ["s1", 4001, 5001, "m-1", "u1"],
    ],
    ["UPDATE orders SET status = 'confirmed', updated_at = $1 WHERE id = 1", [102]],
    ["UPDATE orders SET final_txid = 'same status, no event', updated_at = $1 WHERE id = 1", [103]],
    [
      `INSERT INTO jobs (id, order_id, kind, state, candidates_json, step, next_attempt_at, deadline, created_at,
         updated_at)
       VALUES ('j1', 1, 'settle', 'pending', $1, 'transfer.create', 102, 900, 102, 102)`,
      [JSON.stringify([{ type: "partner_reserve", via: 7001 }, { type: "direct", via: null }])],
    ],
    ["UPDATE jobs SET step = 'transfer.confirm', attempts = 1, updated_at = 104 WHERE id = 'j1'", []],
    ["UPDATE jobs SET path_index = 1, step = 'direct.credit', updated_at = 105 WHERE id = 'j1'", []],
    ["UPDATE jobs SET lease_owner = 'no event', updated_at = 106 WHERE id = 'j1'", []],
    [
      `INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at, updated_at)
       VALUES ('d1', 1, 5001, 'tx1', '{}', 'pending', 107, 107, 107)`,
      [],
    ],
    ["UPDATE deliveries SET attempts = 1, last_http_status = 500, last_error = 'HTTP 500', updated_at = 108", []],
    ["UPDATE deliveries SET state = 'delivered', last_reply = 'ok', updated_at = 109", []],
    [
      `INSERT INTO ledger_entries (movement_id, account, currency, delta, reason, order_id, ref, created_at)
       VALUES ('mv1', 'user:u1', 'USD', 5000, 'funding', NULL, 'r1', 110),
              ('mv1', 'funding', 'USD', -5000, 'funding', NULL, 'r1', 110),
              ('mv2', 'user:u1', 'USD', 9223372036854775807, 'fee', NULL, NULL, 111)`,
      [],
    ],
    ["INSERT INTO audit_log (actor, action, args, at) VALUES ('key:ops', 'user.freeze', $1, 112)", ['{"user":"u1"}']],
  ];

  test("the same rows give the same event log, in the same order", async () => {
    for (const [text, params] of writes) {
      lite.query(text.replace(/\$(\d+)/g, "?$1")).run(...(params as never[]));
      await pg.sql.unsafe(text, params);
    }
    const fromLite = lite
      .query<{ at: number; event: string; data: string }, []>("SELECT at, event, data FROM event_outbox ORDER BY id")
      .all()
      .map((r) => ({ at: r.at, event: r.event, data: JSON.parse(r.data) }));
    const fromPg = (await pg.sql`SELECT at, event, data FROM event_outbox ORDER BY id`).map(
      (r: { at: bigint; event: string; data: string }) => ({ at: Number(r.at), event: r.event, data: JSON.parse(r.data) }),
    );
    expect(fromLite.length).toBe(8); // created, confirmed, 2 steps, 2 delivery changes, 1 credit, 1 operator action
    expect(fromPg).toEqual(fromLite);
  });

  test("the audit log refuses UPDATE and DELETE on both engines", async () => {
    expect(() => lite.query("UPDATE audit_log SET actor = 'x'").run()).toThrow(/append-only/);
    expect(() => lite.query("DELETE FROM audit_log").run()).toThrow(/append-only/);
    expect(await thrown(pg.sql`UPDATE audit_log SET actor = 'x'`)).toThrow(/append-only/);
    expect(await thrown(pg.sql`DELETE FROM audit_log`)).toThrow(/append-only/);
    const [{ n }] = await pg.sql`SELECT COUNT(*)::int AS n FROM audit_log`;
    expect(n).toBe(1);
  });

  test("an amount beyond 64 bits fails the statement on both engines (SQLite by its CHECK, Postgres by type)", async () => {
    const over = "UPDATE ledger_entries SET delta = delta + 1 WHERE movement_id = 'mv2'";
    expect(() => lite.query(over).run()).toThrow();
    expect(await thrown(pg.sql.unsafe(over))).toThrow(/out of range/);
  });

  test("the partial unique index: one active order per merchant order id, a declined one beside it is fine", async () => {
    const again = `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form,
        urls_json, amount, amount_minor, currency, status, confirm_deadline, candidates_json, received_at, updated_at)
      VALUES ('s1', 4001, 5001, 'm-1', '{}', 'sig', 'deep', '{}', '1.00', 100, 'USD', $1, 300, '[]', 120, 120)`;
    expect(await thrown(pg.sql.unsafe(again, ["paid"]))).toThrow(/orders_active_unique/);
    await pg.sql.unsafe(again, ["declined"]);
    expect(() => lite.query(again.replace("$1", "?1")).run("paid")).toThrow(/UNIQUE/);
    lite.query(again.replace("$1", "?1")).run("declined");
  });
});
