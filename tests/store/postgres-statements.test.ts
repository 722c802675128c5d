// Issue 18 item 1, the driver's to-do list: every statement the store prepares (createStore over a real SQLite
// database, recorded as it builds them, with the repository module that prepared it) is PREPAREd on PostgreSQL
// against src/store/postgres/schema.sql, with its SQLite placeholders (?N, ?, $name) rewritten to $N. PREPARE
// parses, resolves every table, column, function and parameter type, and runs nothing. A repository the Postgres
// engine implements (POSTGRES_REPOSITORIES, each its own module under src/store/postgres/) has its own statements,
// proved by the contract suite on both engines; for the rest the test prints the server's reason grouped by kind:
// what is still to write. It asserts only what is stable (the inventory is real and every statement is attributed
// to a repository, the probe tells a portable statement from a SQLite-only one), so SQL edits elsewhere do not
// break it; the printed list is the report, and it is empty once every repository is on Postgres.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { SQL } from "bun";
import { openDatabase } from "../../src/store/db";
import { createStore } from "../../src/store/index";
import { migratePostgres } from "../../src/store/postgres/schema";
import { POSTGRES_REPOSITORIES } from "../../src/store/postgres/repositories";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";

/** A repository module's file name to its key on the store, where the two differ beyond kebab-to-camel case. */
const KEY_OF_MODULE: Record<string, string> = { "merchant-snapshot": "merchants", "p2p-transfers": "p2p" };
const keyOfModule = (file: string) =>
  KEY_OF_MODULE[file] ?? file.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The repository module that is preparing a statement: the first src/store/<module>.ts frame below createStore. */
function preparingModule(): string | null {
  for (const line of (new Error().stack ?? "").split("\n")) {
    const m = /src\/store\/([a-z0-9-]+)\.ts:/.exec(line);
    if (m && m[1] !== "index") return m[1]!;
  }
  return null;
}

/** Every statement text createStore prepares, in the order it prepares them, with the repository that did. */
function storeStatements(): { statements: Map<string, string | null>; keys: string[] } {
  const real = openDatabase(":memory:");
  const texts = new Map<string, string | null>();
  const recording = new Proxy(real, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if ((prop === "query" || prop === "prepare") && typeof v === "function")
        return (text: string) => {
          const module = preparingModule();
          if (!texts.has(text)) texts.set(text, module === null ? null : keyOfModule(module));
          return v.call(target, text);
        };
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const store = createStore(recording as Database);
  real.close();
  return { statements: texts, keys: Object.keys(store) };
}

/** SQLite placeholders to Postgres's: ?N stays N, a bare ? is the next number, a name gets one number. */
export function toPostgresPlaceholders(text: string): string {
  let highest = 0;
  const named = new Map<string, number>();
  return text.replace(/\?(\d+)|\?|[$:@]([A-Za-z_]\w*)/g, (_m, n: string | undefined, name: string | undefined) => {
    if (n) {
      highest = Math.max(highest, Number(n));
      return `$${n}`;
    }
    if (name) {
      if (!named.has(name)) named.set(name, ++highest);
      return `$${named.get(name)}`;
    }
    return `$${++highest}`;
  });
}

/** The server's reason, with the specific names taken out, as the key the report groups by. */
const kindOf = (message: string) =>
  (/could not determine data type/.test(message) ? "(PREPARE has no values; Bun may bind a typed one) " : "") +
  message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\$\d+/g, "$n")
    .replace(/\(bigint(, bigint)*\)/g, "(bigint…)");

const inventory = storeStatements();
const statements = [...inventory.statements.keys()];
const repositoryOf = (text: string) => inventory.statements.get(text) ?? null;
const onPostgres = new Set<string>(POSTGRES_REPOSITORIES);
const run = postgresAvailable("postgres-statements.test.ts (PREPARE on PostgreSQL)");

test("the inventory is real: the store prepares its statements as it is built, placeholders rewrite to $N", () => {
  expect(statements.length).toBeGreaterThan(150);
  // Every statement is attributed to a repository the store really has (a renamed module cannot hide here).
  const repositories = new Set(statements.map(repositoryOf));
  expect(repositories.has(null)).toBe(false);
  for (const r of repositories) expect(inventory.keys).toContain(r!);
  for (const r of POSTGRES_REPOSITORIES) expect(inventory.keys).toContain(r);
  expect(toPostgresPlaceholders("UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?")).toBe(
    "UPDATE t SET a = $2 WHERE id = $1 AND b = $3",
  );
  expect(toPostgresPlaceholders("INSERT INTO t VALUES ($id, $name, $id)")).toBe("INSERT INTO t VALUES ($1, $2, $1)");
});

describe.skipIf(!run)("the store's statements on PostgreSQL", () => {
  let db: TestDatabase;
  let one: SQL;
  const failures: { text: string; reason: string }[] = [];
  beforeAll(async () => {
    db = await freshDatabase("statements");
    await migratePostgres(db.sql);
    one = new SQL(db.url, { max: 1 }); // PREPARE and DEALLOCATE are per connection
    for (const text of statements) {
      try {
        await one.unsafe(`PREPARE oc_probe AS ${toPostgresPlaceholders(text)}`);
        await one.unsafe("DEALLOCATE oc_probe");
      } catch (e) {
        failures.push({ text, reason: String((e as Error).message) });
      }
    }
    // A repository on Postgres has its own statement for each of these; only the others are still to write.
    const todo = failures.filter((f) => !onPostgres.has(repositoryOf(f.text)!));
    const byKind = new Map<string, string[]>();
    for (const f of todo)
      byKind.set(kindOf(f.reason), [...(byKind.get(kindOf(f.reason)) ?? []), `${repositoryOf(f.text)}: ${f.text}`]);
    const lines = [...byKind].map(
      ([kind, texts]) =>
        `  ${texts.length} × ${kind}\n` +
        texts.map((t) => `      ${t.replace(/\s+/g, " ").trim().slice(0, 150)}`).join("\n"),
    );
    const missing = [...new Set(statements.map(repositoryOf))].filter((r) => !onPostgres.has(r!));
    console.log(
      `statements: ${statements.length - failures.length} of ${statements.length} the store prepares are ` +
        `portable to PostgreSQL as is; ${POSTGRES_REPOSITORIES.length} repositories are on PostgreSQL with their ` +
        `own statements (${failures.length - todo.length} SQLite-only ones among theirs); not yet: ` +
        `${missing.join(", ") || "none"}` +
        (todo.length ? `; their SQLite-only statements:\n${lines.join("\n")}` : ""),
    );
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await db?.drop();
  });

  test("the probe tells them apart: a shared statement prepares, a SQLite-only one is refused with its reason", () => {
    const enqueue = statements.find((s) => /INSERT INTO deliveries \(id, order_id/.test(s));
    expect(enqueue).toBeDefined();
    expect(failures.map((f) => f.text)).not.toContain(enqueue);
    // The scheduler's next-due query: SQLite's two-argument MAX (GREATEST on Postgres), an unnamed subquery.
    const nextDue = failures.find((f) => /MIN\(MAX\(next_attempt_at/.test(f.text));
    expect(nextDue).toBeDefined();
    expect(failures.length).toBeLessThan(statements.length);
  });
});
