// Post-commit effects: a use case's pushes and wake-ups happen after its transaction committed, in order, and
// never when it rolled back. Runs over a real in-memory store.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { migrate } from "../../src/store/db";
import { createStore } from "../../src/store";
import {
  applyEffects,
  commit,
  push,
  WAKE_DELIVERIES,
  WAKE_SETTLEMENT,
  type Effect,
} from "../../src/settlement/effects";
import { thrown } from "../helpers/settled";

const UPDATE = { type: "payment_update", sessionId: "s1", status: "paid" } as never;

function targets() {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  const store = createStore(db);
  const seen: string[] = [];
  const rows = () => db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM anomalies").get()!.n;
  return {
    store,
    seen,
    rows,
    hub: { send: (userId: string | null | undefined) => void seen.push(`push:${userId}:rows=${rows()}`) },
    events: {
      settlementEnqueued: () => void seen.push("wake:settlement"),
      deliveryEnqueued: () => void seen.push("wake:deliveries"),
    },
  };
}

test("effects are applied once the transaction committed, in the order the use case gave them", async () => {
  const t = targets();
  const value = await commit(t, async () => {
    t.store.anomalies.record("test", null, null, "one", 1);
    expect(t.seen).toEqual([]); // nothing is announced inside the transaction
    return { value: 42, effects: [push("u1", UPDATE), WAKE_SETTLEMENT, WAKE_DELIVERIES] };
  });
  expect(value).toBe(42);
  expect(t.seen).toEqual(["push:u1:rows=1", "wake:settlement", "wake:deliveries"]);
});

test("a transaction that throws applies none of its effects and writes nothing", async () => {
  const t = targets();
  expect(await thrown(commit(t, async () => {
      t.store.anomalies.record("test", null, null, "rolled back", 1);
      if (t.rows() === 1) throw new Error("boom");
      return { value: 0, effects: [push("u1", UPDATE)] };
    }),)).toThrow("boom");
  expect(t.seen).toEqual([]);
  expect(t.rows()).toBe(0);
});

test("a computed push reads the committed state, and one that finds nothing sends nothing", async () => {
  const t = targets();
  const effects: Effect[] = [
    push("u1", () => (t.rows() > 0 ? UPDATE : null)),
    push("u2", () => null),
  ];
  await commit(t, async () => {
    t.store.anomalies.record("test", null, null, "x", 1);
    return { value: null, effects };
  });
  expect(t.seen).toEqual(["push:u1:rows=1"]);
  applyEffects(t, []);
  expect(t.seen).toHaveLength(1);
});
