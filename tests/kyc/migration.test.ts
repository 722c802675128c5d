// Issue 21: a database made by every migration before 21-kyc gets the KYC tables at the next start, data intact,
// and its users start with no grants and no pinned tier (the lowest tier).
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "../../src/store/db";
import { MIGRATIONS } from "../../src/store/migrations";
import { kyc } from "../../src/store/kyc";

test("21-kyc applies to a database created without it, keeping users, limits and balances", () => {
  const path = join(mkdtempSync(join(tmpdir(), "oc-mig-kyc-")), "gateway.sqlite");
  const old = new Database(path);
  migrate(old, MIGRATIONS.filter((m) => m.id !== "21-kyc"));
  old.exec("INSERT INTO app_users (id, name, created_at) VALUES ('u1', 'old', 1)");
  old.exec("INSERT INTO accounts (account, currency, balance) VALUES ('user:u1', 'USD', 500), ('funding', 'USD', -500)");
  old.exec("INSERT INTO user_limits (user_id, currency, limit_name, max, updated_at) VALUES ('u1', 'USD', 'per_day', 1000, 1)");
  old.close();
  const db = new Database(path);
  migrate(db);
  migrate(db);
  expect(db.query("SELECT id FROM schema_migrations WHERE id = '21-kyc'").get()).toEqual({ id: "21-kyc" });
  expect(db.query("SELECT balance FROM accounts WHERE account = 'user:u1'").get()).toEqual({ balance: 500 });
  expect(db.query("SELECT max FROM user_limits WHERE user_id = 'u1'").get()).toEqual({ max: 1000 });
  const k = kyc(db);
  expect(k.grants("u1")).toEqual([]);
  expect(k.pinned("u1")).toBeNull();
  k.putGrant("u1", { provider: 900, grant: "identity", status: "granted", verified: true, expiresAt: 100, dataHash: "ab", signedForm: "data-deep" }, 1);
  expect([...k.verifiedGrants("u1", 99)]).toEqual(["identity"]);
  expect([...k.verifiedGrants("u1", 100)]).toEqual([]);
  db.close();
});
