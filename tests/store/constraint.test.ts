// Database errors are recognised by the constraint they violate (kind from the engine's code, table and columns
// from its report), never by matching an error's free text; checked against the real schema.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { constraintViolation, isCheckViolation, isUniqueViolation } from "../../src/store/constraint";
import { isBalanceOverflow, ledger } from "../../src/store/ledger";
import { createStore } from "../../src/store";

const INT64_MAX = 2n ** 63n - 1n;

function freshDb() {
  return openDatabase(join(mkdtempSync(join(tmpdir(), "oc-constraint-")), "g.sqlite"), "NORMAL");
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

test("a UNIQUE violation names its table and columns; a duplicate user name is one", () => {
  const db = freshDb();
  const store = createStore(db);
  store.tx(() => store.users.create("alice", 1));
  const e = thrown(() => store.tx(() => store.users.create("alice", 2)));
  expect(constraintViolation(e)).toEqual({ kind: "unique", table: "app_users", columns: ["name"], check: null });
  expect(isUniqueViolation(e)).toBe(true);
  expect(isUniqueViolation(e, "app_users", ["name"])).toBe(true);
  expect(isUniqueViolation(e, "orders")).toBe(false);
  expect(isUniqueViolation(e, "app_users", ["id"])).toBe(false);
});

test("a balance past 64 bits is the accounts CHECK, recognised as a balance overflow", () => {
  const db = freshDb();
  const l = ledger(db);
  db.transaction(() =>
    l.move({ from: "funding", to: "user:a", currency: "USD", amount: INT64_MAX, reason: "f", now: 1 }),
  )();
  const e = thrown(() =>
    db.transaction(() =>
      l.move({ from: "external:1", to: "user:a", currency: "USD", amount: 1n, reason: "f", now: 1 }),
    )(),
  );
  // SQLite turns the overflowing integer into a REAL; the CHECK on typeof(balance) refuses it.
  expect(constraintViolation(e)?.kind).toBe("check");
  expect(isCheckViolation(e, "balance")).toBe(true);
  expect(isBalanceOverflow(e)).toBe(true);
  expect(isCheckViolation(e, "status")).toBe(false);
});

test("a foreign key and a NOT NULL violation are told apart; other errors are no violation at all", () => {
  const db = freshDb();
  const fk = thrown(() => db.run("INSERT INTO app_tokens (token_hash, user_id, created_at) VALUES ('h', 'nobody', 1)"));
  expect(constraintViolation(fk)).toEqual({ kind: "foreign_key", table: null, columns: [], check: null });
  const nn = thrown(() => db.run("INSERT INTO app_users (id, name, created_at) VALUES ('u', NULL, 1)"));
  expect(constraintViolation(nn)).toEqual({ kind: "not_null", table: "app_users", columns: ["name"], check: null });
  expect(constraintViolation(new Error("UNIQUE constraint failed: app_users.name"))).toBeNull();
  expect(constraintViolation(thrown(() => db.run("SELECT * FROM no_such_table")))).toBeNull();
  expect(isBalanceOverflow(new Error("CHECK constraint failed: typeof(balance) = 'integer'"))).toBe(false);
  const minor = Object.assign(
    new Error("CHECK constraint failed: typeof(amount_minor) = 'integer' AND amount_minor > 0"),
    { code: "SQLITE_CONSTRAINT_CHECK" },
  );
  expect(isCheckViolation(minor, "amount_minor")).toBe(true);
  expect(isCheckViolation(minor, "minor")).toBe(false);
});

test("PostgreSQL's report maps to the same shape: SQLSTATE for the kind, table and key columns from the server", () => {
  // The fields Bun.SQL's PostgresError carries (errno = SQLSTATE, table, constraint, detail), as the server sends them.
  const pg = (fields: Record<string, string>) => Object.assign(new Error(fields.message ?? "server error"), fields);
  const unique = pg({
    errno: "23505",
    table: "p2p_transfers",
    constraint: "p2p_transfers_user_id_idempotency_key_key",
    detail: "Key (user_id, idempotency_key)=(u1, k1) already exists.",
  });
  expect(constraintViolation(unique)).toEqual({
    kind: "unique",
    table: "p2p_transfers",
    columns: ["user_id", "idempotency_key"],
    check: null,
  });
  expect(isUniqueViolation(unique, "p2p_transfers", ["idempotency_key", "user_id"])).toBe(true);
  const check = pg({ errno: "23514", table: "accounts", constraint: "accounts_balance_check" });
  expect(isCheckViolation(check, "balance")).toBe(true);
  expect(isCheckViolation(check, "status")).toBe(false);
  // A column whose name has an underscore, and one that is only part of another's name.
  const minor = pg({ errno: "23514", table: "refunds", constraint: "refunds_amount_minor_check" });
  expect(isCheckViolation(minor, "amount_minor")).toBe(true);
  expect(isCheckViolation(minor, "minor")).toBe(false);
  expect(isCheckViolation(pg({ errno: "23514", table: "t", constraint: "t_a_check1" }), "a")).toBe(true);
  expect(constraintViolation(pg({ errno: "23502", table: "app_users", column: "name" }))?.columns).toEqual(["name"]);
  expect(constraintViolation(pg({ errno: "42P01", table: "nope" }))).toBeNull();
});
