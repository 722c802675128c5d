// Issue 12's migration: a database made without 12-peer-dialects (every other migration applied) keeps its
// deliveries and their attempts, which gain the merchant-code and dialect columns; peer_dialects starts empty.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../src/store/db";
import { MIGRATIONS } from "../../src/store/migrations";
import { dialects } from "../../src/store/dialects";

test("12-peer-dialects migrates a database with pending deliveries in it", () => {
  const db = new Database(":memory:", { strict: true });
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, MIGRATIONS.filter((m) => m.id !== "12-peer-dialects"));
  db.exec(`INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, attempts, next_attempt_at, last_http_status, last_error, created_at, updated_at)
      VALUES ('dlv_1', NULL, 500, 'tx_1', '{"proof":{},"signature":"ab"}', 'pending', 1, 20, 400, 'http 400', 1, 10);
    INSERT INTO delivery_attempts (delivery_id, at, http_status, latency_ms, error, result) VALUES ('dlv_1', 10, 400, 5, 'http 400', 'retry');`);
  migrate(db, MIGRATIONS);
  expect(db.query("SELECT id, state, attempts, last_error, last_peer_code, last_peer_message, dialect_retried FROM deliveries").all()).toEqual([
    { id: "dlv_1", state: "pending", attempts: 1, last_error: "http 400", last_peer_code: null, last_peer_message: null, dialect_retried: 0 },
  ]);
  expect(db.query("SELECT delivery_id, result, peer_code, dialect FROM delivery_attempts").all()).toEqual([{ delivery_id: "dlv_1", result: "retry", peer_code: null, dialect: null }]);
  expect(db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id)).toContain("12-peer-dialects");
  const d = dialects(db);
  expect(d.all()).toEqual([]);
  d.observe(500, { encoding: "der", hash: "sha256", form: "replacer" }, "order", 30);
  expect(d.signingFor(500)).toEqual({ encoding: "der", hash: "sha256" });
  expect(() => db.exec("INSERT INTO peer_dialects (ocid, encoding) VALUES (501, 'base64')")).toThrow(/CHECK/);
  migrate(db, MIGRATIONS); // every start-up: nothing re-runs
  expect(d.all()).toHaveLength(1);
});
