// §12.1 invariants: the ledger never moves money without both entries, floored accounts never go negative, and a
// broken book is reported loudly at start-up.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { checkBalances, checkLedger, InsufficientFunds, ledger } from "../../src/store/ledger";
import { startTestGateway } from "../helpers/gateway";

function freshDb() {
  return openDatabase(join(mkdtempSync(join(tmpdir(), "oc-ledger-")), "g.sqlite"), "NORMAL");
}

test("moves write two entries summing to zero; floored accounts refuse to go negative; funding/external may", () => {
  const db = freshDb();
  const l = ledger(db);
  db.transaction(() => l.move({ from: "funding", to: "user:a", currency: "USD", amount: 500n, reason: "funding", now: 1 }))();
  expect(() => db.transaction(() => l.move({ from: "user:a", to: "settlement_in_flight", currency: "USD", amount: 501n, reason: "x", now: 1 }))()).toThrow(InsufficientFunds);
  db.transaction(() => l.move({ from: "user:a", to: "settlement_in_flight", currency: "USD", amount: 500n, reason: "x", now: 1 }))();
  db.transaction(() => l.move({ from: "settlement_in_flight", to: "external:9", currency: "USD", amount: 500n, reason: "x", now: 1 }))();
  expect(l.balance("user:a", "USD")).toBe(0n);
  expect(l.balance("funding", "USD")).toBe(-500n);
  expect(checkLedger(db)).toEqual({ ok: true, problems: [] });
  expect(checkBalances(db)).toEqual({ ok: true, problems: [] });
  expect(() => l.move({ from: "user:a", to: "user:a", currency: "USD", amount: 1n, reason: "x", now: 1 })).toThrow();
  expect(() => l.move({ from: "funding", to: "user:a", currency: "USD", amount: 0n, reason: "x", now: 1 })).toThrow();
});

test("a bare balance write is caught by both checks, and the gateway says so loudly at start-up", async () => {
  const tg = await startTestGateway();
  const dir = tg.dataDir;
  tg.gw.store.tx(() => tg.gw.store.ledger.move({ from: "funding", to: "user:z", currency: "USD", amount: 100n, reason: "funding", now: 1 }));
  tg.gw.db.query("UPDATE accounts SET balance = balance + 1 WHERE account = 'user:z'").run();
  expect(checkBalances(tg.gw.db).ok).toBe(false);
  expect(checkLedger(tg.gw.db).problems.join()).toContain("user:z USD: balance 101 but entries 100");
  await tg.stop();
  const again = await startTestGateway({}, { dataDir: dir });
  expect(again.logs.some((l) => l.includes("LEDGER INVARIANT BROKEN"))).toBe(true);
  await again.close();
});
