// §11.1's transition table as vectors: every legal move applies, every other (status, event) pair throws, and the
// one status list is the one the database's CHECK constraint and unique index use.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import {
  ACTIVE_STATUSES,
  applyOrderEvent,
  canOperatorResolve,
  IllegalOrderTransition,
  isFinalStatus,
  ORDER_EVENTS,
  ORDER_STATUSES,
  sourcesOf,
  targetOf,
  type OrderEvent,
  type OrderStatus,
} from "../../src/domain/order-lifecycle";
import { migrate } from "../../src/store/db";
import { orders } from "../../src/store/orders";

/** §11.1, written out by hand (not derived from the code's table, so a wrong table fails here). */
const LEGAL: readonly [from: OrderStatus, event: OrderEvent, to: OrderStatus][] = [
  ["awaiting_confirmation", "confirm", "confirmed"],
  ["awaiting_confirmation", "decline", "declined"],
  ["awaiting_confirmation", "expire", "expired"],
  ["confirmed", "settle", "paid"],
  ["confirmed", "fail", "failed"],
  ["confirmed", "review", "in_review"],
  ["in_review", "settle", "paid"],
  ["in_review", "operator_refund", "failed"],
];

const ILLEGAL = ORDER_STATUSES.flatMap((from) =>
  ORDER_EVENTS.filter((event) => !LEGAL.some(([f, e]) => f === from && e === event)).map(
    (event) => [from, event] as const,
  ),
);

describe("§11.1 order lifecycle", () => {
  test.each(LEGAL)("%s --%s--> %s applies", (from, event, to) => {
    expect(applyOrderEvent(from, event)).toBe(to);
  });

  test.each(ILLEGAL)("%s --%s--> is refused with IllegalOrderTransition", (from, event) => {
    expect(() => applyOrderEvent(from, event)).toThrow(IllegalOrderTransition);
  });

  test("the illegal moves are the whole rest of status × event (none forgotten)", () => {
    expect(LEGAL.length + ILLEGAL.length).toBe(ORDER_STATUSES.length * ORDER_EVENTS.length);
  });

  const FINAL: readonly [OrderStatus, boolean][] = [
    ["awaiting_confirmation", false],
    ["confirmed", false],
    ["in_review", false],
    ["paid", true],
    ["declined", true],
    ["expired", true],
    ["failed", true],
  ];
  test.each(FINAL)("%s is final: %p", (status, final) => {
    expect(isFinalStatus(status)).toBe(final);
  });

  const OPERATOR: readonly [OrderStatus, boolean][] = ORDER_STATUSES.map((s) => [s, s === "in_review"]);
  test.each(OPERATOR)("the operator may resolve an order that is %s: %p", (status, allowed) => {
    expect(canOperatorResolve(status)).toBe(allowed);
  });

  const TARGETS: readonly [OrderEvent, OrderStatus[], OrderStatus][] = [
    ["confirm", ["awaiting_confirmation"], "confirmed"],
    ["decline", ["awaiting_confirmation"], "declined"],
    ["expire", ["awaiting_confirmation"], "expired"],
    ["settle", ["confirmed", "in_review"], "paid"],
    ["fail", ["confirmed"], "failed"],
    ["review", ["confirmed"], "in_review"],
    ["operator_refund", ["in_review"], "failed"],
  ];
  test.each(TARGETS)("event %s applies to %p and always leads to %s (what the store's UPDATE sets)", (e, from, to) => {
    expect(sourcesOf(e)).toEqual(from);
    expect(targetOf(e)).toBe(to);
  });
});

/** The CHECK (status IN (…)) / WHERE status IN (…) lists in a CREATE statement. */
const listAfter = (sql: string, marker: RegExp): string[] => {
  const m = marker.exec(sql);
  if (!m) throw new Error(`no ${marker} in ${sql}`);
  return [...m[1]!.matchAll(/'([a-z_]+)'/g)].map((x) => x[1]!);
};
const CHECK = /status TEXT NOT NULL CHECK \(status IN \(([^)]*)\)\)/;
const ACTIVE = /WHERE status IN \(([^)]*)\)/;

describe("the one status list is the database's", () => {
  test("schema.sql's CHECK on orders.status lists exactly ORDER_STATUSES", () => {
    const schema = readFileSync(new URL("../../schema.sql", import.meta.url), "utf8");
    const table = /CREATE TABLE IF NOT EXISTS orders \(([\s\S]*?)\n\);/.exec(schema)![1]!;
    expect(listAfter(table, CHECK).sort()).toEqual([...ORDER_STATUSES].sort());
  });

  test("a migrated database's orders table and active-order unique index use the same statuses", () => {
    const db = new Database(":memory:", { strict: true });
    migrate(db);
    const sql = (name: string) =>
      db.query<{ sql: string }, [string]>("SELECT sql FROM sqlite_master WHERE name = ?").get(name)!.sql;
    expect(listAfter(sql("orders"), CHECK).sort()).toEqual([...ORDER_STATUSES].sort());
    expect(listAfter(sql("orders_active_unique"), ACTIVE).sort()).toEqual([...ACTIVE_STATUSES].sort());
  });
});

describe("the store moves an order only as the table allows", () => {
  const NOW = 1_700_000_000;
  const setup = () => {
    const db = new Database(":memory:", { strict: true });
    migrate(db);
    db.query("INSERT INTO app_users (id, name, created_at) VALUES ('u1', 'Ann', 1)").run();
    const session =
      "INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)";
    db.query(session).run("s1", "qr", "u1", "used", 1, NOW + 600);
    const o = orders(db);
    const id = o.insert({
      sessionId: "s1", callerOcid: 500, merchantOcid: 500, orderId: "ord_1", orderJson: "{}", signature: "00",
      sigForm: "deep", urlsJson: "{}", amount: "1.00", amountMinor: 100n, currency: "USD", userId: "u1",
      confirmDeadline: NOW + 600, candidates: [], now: NOW,
    });
    return { o, id };
  };
  const SETTLE = { event: "settle", proofJson: "{}", signature: "00", txid: "tx_1" } as const;

  test("a move from a status the event does not apply to changes nothing", () => {
    const { o, id } = setup();
    expect(o.move(id, SETTLE, NOW)).toBe(false);
    expect(o.move(id, { event: "operator_refund" }, NOW)).toBe(false);
    expect(o.move(id, { event: "review" }, NOW)).toBe(false);
    expect(o.byId(id)!.status).toBe("awaiting_confirmation");
  });

  test("confirm → review → settle walks the table, and a final order moves no more", () => {
    const { o, id } = setup();
    expect(o.move(id, { event: "confirm", userId: "u1" }, NOW)).toBe(true);
    expect(o.move(id, { event: "confirm", userId: "u1" }, NOW)).toBe(false);
    expect(o.move(id, { event: "review" }, NOW)).toBe(true);
    expect(o.move(id, { event: "fail" }, NOW)).toBe(false); // in_review is refunded only by the operator
    expect(o.move(id, SETTLE, NOW)).toBe(true);
    expect(o.byId(id)!).toMatchObject({ status: "paid", finalTxid: "tx_1" });
    for (const e of ["fail", "review", "operator_refund"] as const) expect(o.move(id, { event: e }, NOW)).toBe(false);
  });
});
