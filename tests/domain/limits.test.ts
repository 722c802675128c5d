// Which user limit applies to which movement: the facts a check reads follow from it (src/flows/user-limits.ts
// reads a day's spending only for a per-day limit on a payment, so a credit's recipient is never locked for it).
import { expect, test } from "bun:test";
import { limitApplies, type LimitName, type LimitSet, type MovementKind } from "../../src/domain/limits";

const ALL: LimitSet = { per_payment: 100n, per_day: 500n, max_balance: 1000n };
test.each<[LimitName, MovementKind, boolean]>([
  ["per_payment", "payment", true],
  ["per_day", "payment", true],
  ["max_balance", "payment", false],
  ["per_payment", "credit", false],
  ["per_day", "credit", false],
  ["max_balance", "credit", true],
  ["per_day", "withdrawal", false],
  ["max_balance", "withdrawal", false],
])("%s applies to a %s: %p", (limit, kind, applies) => {
  expect(limitApplies(ALL, limit, kind)).toBe(applies);
  expect(limitApplies({}, limit, kind)).toBe(false); // not set: never applies
});
