import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../src/store/db";

test("named migrations run once each, in order, and survive a restart of the same database", () => {
  const db = new Database(":memory:", { strict: true });
  const list = [
    { id: "a-add-table", sql: "CREATE TABLE extra (x INTEGER)" },
    { id: "b-add-column", sql: "ALTER TABLE extra ADD COLUMN y TEXT" },
  ];
  migrate(db, list);
  migrate(db, list); // a second start must not re-run them (ALTER would fail)
  const cols = db.query<{ name: string }, []>("PRAGMA table_info(extra)").all().map((c) => c.name);
  expect(cols).toEqual(["x", "y"]);
  const ids = db.query<{ id: string }, []>("SELECT id FROM schema_migrations ORDER BY rowid").all().map((r) => r.id);
  expect(ids).toEqual(["a-add-table", "b-add-column"]);
});

test("a failing migration rolls back the whole start-up migration, recording nothing", () => {
  const db = new Database(":memory:", { strict: true });
  migrate(db, []);
  expect(() => migrate(db, [{ id: "ok", sql: "CREATE TABLE t1 (x)" }, { id: "bad", sql: "ALTER TABLE nope ADD y" }])).toThrow();
  expect(db.query("SELECT name FROM sqlite_master WHERE name = 't1'").get()).toBeNull();
  expect(db.query("SELECT COUNT(*) AS n FROM schema_migrations").get()).toEqual({ n: 0 });
});

test("17-p2p-transfers: a database made by the base schema gains user OCIDs, p2p transfers and top-ups, users intact", () => {
  const db = new Database(":memory:", { strict: true });
  migrate(db, []);
  db.query("INSERT INTO app_users (id, name, created_at) VALUES ('u1', 'old user', 1)").run();
  migrate(db);
  expect(db.query("SELECT id, name, ocid FROM app_users").all()).toEqual([{ id: "u1", name: "old user", ocid: null }]);
  db.query("UPDATE app_users SET ocid = 4242 WHERE id = 'u1'").run();
  db.query("INSERT INTO app_users (id, name, created_at) VALUES ('u2', 'new user', 2)").run();
  expect(() => db.query("UPDATE app_users SET ocid = 4242 WHERE id = 'u2'").run()).toThrow(); // one OCID, one person
  for (const t of ["p2p_transfers", "topups"]) expect(db.query("SELECT name FROM sqlite_master WHERE name = ?").get(t)).toEqual({ name: t });
  migrate(db); // a restart runs nothing twice
});
