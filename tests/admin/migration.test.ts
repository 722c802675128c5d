// Issue 16: a database made by the schema before the admin migrations gets them at the next start, data intact.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "../../src/store/db";
import { MIGRATIONS } from "../../src/store/migrations";

test("the 16-* migrations apply to a database created without them, keeping its users and balances", () => {
  const path = join(mkdtempSync(join(tmpdir(), "oc-mig-")), "gateway.sqlite");
  const before = MIGRATIONS.filter((m) => !m.id.startsWith("16-"));
  const old = new Database(path);
  migrate(old, before);
  old.exec("INSERT INTO app_users (id, name, created_at) VALUES ('u1', 'old', 1)");
  old.exec("INSERT INTO accounts (account, currency, balance) VALUES ('user:u1', 'USD', 500), ('funding', 'USD', -500)");
  old.close();
  const db = new Database(path);
  migrate(db);
  migrate(db); // idempotent
  const applied = db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id);
  for (const m of MIGRATIONS.filter((m) => m.id.startsWith("16-"))) expect(applied).toContain(m.id);
  expect(db.query("SELECT id, name, frozen_at FROM app_users").all()).toEqual([{ id: "u1", name: "old", frozen_at: null }]);
  expect(db.query("SELECT balance FROM accounts WHERE account = 'user:u1'").get()).toEqual({ balance: 500 });
  for (const t of ["api_keys", "audit_log", "admin_idempotency", "user_limits"])
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(t)).toEqual({ name: t });
  db.close();
});
