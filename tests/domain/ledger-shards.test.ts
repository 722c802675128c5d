// Issue 18 item 4: which row of settlement_in_flight a movement books, and how a short row's debit is split.
import { expect, test } from "bun:test";
import {
  balanceRows,
  bookAccount,
  IN_FLIGHT,
  IN_FLIGHT_ROWS,
  IN_FLIGHT_SHARDS,
  inFlightRow,
  inFlightShard,
  inFlightShardOf,
  mayGoNegative,
  splitDebit,
} from "../../src/domain/ledger-accounts";

test("every row is a shard of settlement_in_flight, floored at zero, and reports as the one account", () => {
  expect(IN_FLIGHT_ROWS.length).toBe(IN_FLIGHT_SHARDS);
  expect(IN_FLIGHT_ROWS[0]).toBe(IN_FLIGHT); // books from before the split keep working
  IN_FLIGHT_ROWS.forEach((row, i) => {
    expect(inFlightShardOf(row)).toBe(i);
    expect(inFlightRow(i)).toBe(row);
    expect(bookAccount(row)).toBe(IN_FLIGHT);
    expect(mayGoNegative(row)).toBe(false);
  });
});

test("settlement_in_flight is kept in all its rows; any other account in its one row", () => {
  expect(balanceRows(IN_FLIGHT)).toEqual(IN_FLIGHT_ROWS);
  expect(balanceRows("user:u1")).toEqual(["user:u1"]);
  expect(balanceRows(inFlightRow(3))).toEqual([inFlightRow(3)]); // a row named outright is that row alone
});

test.each([
  `${IN_FLIGHT}:0`,
  `${IN_FLIGHT}:${IN_FLIGHT_SHARDS}`,
  `${IN_FLIGHT}:01`,
  `${IN_FLIGHT}:x`,
  `${IN_FLIGHT}x`,
  "user:settlement_in_flight",
])("%s is no shard row (it books as itself)", (name) => {
  expect(inFlightShardOf(name)).toBeNull();
  expect(bookAccount(name)).toBe(name);
});

test("a key always picks the same shard, keys spread over all of them, a movement without one books shard 0", () => {
  expect(inFlightShard(123)).toBe(inFlightShard("123"));
  expect(inFlightShard(null)).toBe(0);
  expect(inFlightShard(undefined)).toBe(0);
  const seen = new Set(Array.from({ length: 1000 }, (_, i) => inFlightShard(i)));
  expect(seen.size).toBe(IN_FLIGHT_SHARDS);
});

test.each([
  { rows: [10n, 5n, 0n], amount: 12n, parts: [["a", 10n], ["b", 2n]] },
  { rows: [3n, 9n, 4n], amount: 9n, parts: [["b", 9n]] },
  { rows: [3n, 9n, 4n], amount: 16n, parts: [["b", 9n], ["c", 4n], ["a", 3n]] },
  { rows: [3n, 9n, 4n], amount: 17n, parts: null },
  { rows: [-2n, 5n], amount: 5n, parts: [["b", 5n]] },
])("split $amount over $rows → $parts", ({ rows, amount, parts }) => {
  const named = rows.map((balance, i) => ({ row: "abc"[i]!, balance }));
  const got = splitDebit(named, amount);
  expect(got && got.map((p) => [p.row, p.amount])).toEqual(parts as never);
});
