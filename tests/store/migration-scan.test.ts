// Issue 13's migration: a database made by the base schema (sessions.kind CHECK without 'scan') keeps every row,
// its orders' references and its indexes, and then accepts scan sessions and their scan records.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../src/store/db";
import { MIGRATIONS } from "../../src/store/migrations";

test("13-scan-sessions migrates a base-schema database with sessions and orders in it", () => {
  const db = new Database(":memory:", { strict: true });
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, []); // the previous schema: schema.sql alone
  expect(() => db.exec("INSERT INTO sessions (id, kind, status, created_at, expires_at) VALUES ('s0', 'scan', 'pending', 1, 2)")).toThrow(/CHECK/);
  db.exec(`INSERT INTO app_users (id, name, created_at) VALUES ('u1', 'alice', 1);
    INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at, used_at) VALUES ('s1', 'qr', 'u1', 'used', 1, 301, 5), ('s2', 'checkout', NULL, 'pending', 1, 1801, NULL);
    INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json, amount, amount_minor, currency,
      user_id, status, confirm_deadline, candidates_json, received_at, updated_at)
      VALUES ('s1', 500, 500, 'o1', '{}', 'ab', 'deep', '{}', '1.00', 100, 'USD', 'u1', 'paid', 600, '[]', 5, 9);`);
  const before = db.query("SELECT * FROM sessions ORDER BY id").all();

  migrate(db, MIGRATIONS);
  expect(db.query("SELECT * FROM sessions ORDER BY id").all()).toEqual(before);
  expect(db.query("PRAGMA foreign_key_check").all()).toEqual([]);
  expect(db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'").all().map((r) => r.name)).toContain("sessions_user");
  expect(db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id)).toContain("13-scan-sessions");
  // The orders still reference sessions (a dangling one is refused), and the new kind and table work.
  expect(() => db.exec("INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json, amount, amount_minor, currency, status, confirm_deadline, candidates_json, received_at, updated_at) VALUES ('nope', 1, 1, 'o2', '{}', '', 'deep', '{}', '1', 1, 'USD', 'declined', 1, '[]', 1, 1)")).toThrow(/FOREIGN KEY/);
  db.exec("INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at) VALUES ('s3', 'scan', 'u1', 'pending', 1, 2)");
  db.exec("INSERT INTO scans (session_id, kind, merchant_ocid, code, created_at, updated_at) VALUES ('s3', 'inventory', 530, '{}', 1, 1)");
  expect(() => db.exec("INSERT INTO scans (session_id, kind, merchant_ocid, code, created_at, updated_at) VALUES ('zz', 'order', 1, '{}', 1, 1)")).toThrow(/FOREIGN KEY/);
  // Running again (every start-up) changes nothing.
  migrate(db, MIGRATIONS);
  expect(db.query("SELECT COUNT(*) AS n FROM sessions").get()).toEqual({ n: 3 });
});
