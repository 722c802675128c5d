// Issue 20 item 3: the SQLite engine runs the store transactions waiting for the connection as ONE SQLite
// transaction (src/store/sqlite-engine.ts), each member in its own savepoint. On a real database file, with a
// second connection that sees only what is committed: members answer only after the shared COMMIT; a member that
// throws undoes only its own work; a failing COMMIT, or SQLite leaving the transaction on its own, rejects every
// member that ran and leaves nothing; the serial semantics (one member at a time, a dead handle refuses, nested
// transactions refused, reads read-only) hold inside a batch; the batch is bounded; batch 1 is the old engine.
//
// Controls (mutations of src/store/sqlite-engine.ts, run once by hand): without the savepoints (no SAVEPOINT,
// RELEASE or ROLLBACK TO) the failing member's row stays and its neighbour's insert of the same key fails, so
// "a member that throws" fails; with every member's failure rolling the whole batch back, the neighbours' rows
// are missing and it fails too; settling each member as soon as its body ends (before the COMMIT) makes the
// second connection see fewer rows than members and "answer only after" fails.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchRolledBack, BATCH_LIMIT, sqliteEngine } from "../../src/store/sqlite-engine";
import { NestedTransaction, TransactionClosed, type AsyncRepositories } from "../../src/store/port";
import { rejectionOf } from "../helpers/settled";

const dir = mkdtempSync(join(tmpdir(), "oc-batching-"));
const path = join(dir, "batching.sqlite");
let db: Database;
/** A second connection: it sees committed rows only. */
let peek: Database;

function repositories(d: Database) {
  return {
    probe: {
      put: (k: string, v = 1): void => void d.query("INSERT INTO probe (k, v) VALUES (?, ?)").run(k, v),
      get: (k: string): number | null =>
        d.query<{ v: number }, [string]>("SELECT v FROM probe WHERE k = ?").get(k)?.v ?? null,
      count: (prefix: string): number =>
        d.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM probe WHERE k LIKE ? || '%'").get(prefix)!.n,
      /** A row whose parent is missing, checked only at COMMIT: the COMMIT fails. */
      orphan: (): void => {
        d.exec("PRAGMA defer_foreign_keys = ON");
        d.query("INSERT INTO child (parent) VALUES (999)").run();
      },
      /** Stands in for SQLite rolling the whole transaction back on its own (SQLITE_FULL, an I/O error). */
      lose: (): void => {
        d.exec("ROLLBACK");
        throw new Error("disk I/O error");
      },
    },
  };
}
type Repos = ReturnType<typeof repositories>;
let engine: ReturnType<typeof sqliteEngine<Repos>>;

beforeAll(() => {
  db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("CREATE TABLE probe (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
  db.exec("CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent (id))");
  engine = sqliteEngine(db, repositories(db));
  peek = new Database(path, { readonly: true });
});
afterAll(() => {
  peek.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const committed = (k: string) =>
  peek.query<{ v: number }, [string]>("SELECT v FROM probe WHERE k = ?").get(k)?.v ?? null;
const committedCount = (prefix: string) =>
  peek.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM probe WHERE k LIKE ? || '%'").get(prefix)!.n;

type Tx = AsyncRepositories<Repos>;
/** Starts the port transactions in one go (all waiting for the connection together); what each settled with. */
const together = (e: typeof engine, fns: ((tx: Tx) => Promise<unknown>)[]) =>
  Promise.all(fns.map((fn) => rejectionOf(e.transaction(fn))));
const delta = (before: ReturnType<typeof engine.stats>, e = engine) => {
  const now = e.stats();
  const sum = (s: typeof now, k: "transactions" | "members") => s.write[k] + s.read[k];
  return {
    transactions: sum(now, "transactions") - sum(before, "transactions"),
    members: sum(now, "members") - sum(before, "members"),
  };
};

test("the transactions waiting together are one SQLite transaction, and each answers only after its COMMIT", async () => {
  const before = engine.stats();
  const seen: number[] = [];
  await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      engine
        .transaction((tx) => tx.probe.put(`a${i}`))
        .then(() => seen.push(db.inTransaction ? -1 : committedCount("a"))),
    ),
  );
  // Every member's answer came after the COMMIT that made all five visible to another connection.
  expect(seen).toEqual([5, 5, 5, 5, 5]);
  expect(delta(before)).toEqual({ transactions: 1, members: 5 });

  // Control: one SQLite transaction per store transaction answers each after its own COMMIT, so the same
  // observation sees the rows arrive one by one (the observation depends on when the answers come).
  const single = sqliteEngine(db, repositories(db), { batch: 1 });
  const one = single.stats();
  const seenSingly: number[] = [];
  await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      single.transaction((tx) => tx.probe.put(`s${i}`)).then(() => seenSingly.push(committedCount("s"))),
    ),
  );
  expect(seenSingly).toEqual([1, 2, 3, 4, 5]);
  expect(delta(one, single)).toEqual({ transactions: 5, members: 5 });
});

test("a member that throws is rolled back to its savepoint: the others commit, it does not", async () => {
  const before = engine.stats();
  const boom = new Error("refused after writing");
  const results = await together(engine, [
    (tx) => tx.probe.put("b0"),
    async (tx) => {
      await tx.probe.put("b1", 1);
      throw boom;
    },
    // Sees the commits and rollbacks before it: b1 is free again, so its own insert of b1 goes through.
    async (tx) => {
      const earlier = await tx.probe.get("b1");
      await tx.probe.put("b1", 2);
      return earlier;
    },
    (tx) => tx.probe.put("b0"), // a unique violation of SQLite's own: only this member fails
    (tx) => tx.probe.put("b3"),
  ]);
  expect(results[0]).toEqual({ resolved: undefined });
  expect(results[1]).toBe(boom);
  expect(results[2]).toEqual({ resolved: null });
  expect(String(results[3])).toContain("UNIQUE constraint failed");
  expect(results[4]).toEqual({ resolved: undefined });
  expect([committed("b0"), committed("b1"), committed("b3")]).toEqual([1, 2, 1]);
  expect(committedCount("b")).toBe(3);
  expect(delta(before)).toEqual({ transactions: 1, members: 5 });
});

test("a failing COMMIT rejects every member, and nothing of any of them is there", async () => {
  const before = engine.stats();
  const results = await together(engine, [
    (tx) => tx.probe.put("c0"),
    (tx) => tx.probe.orphan(),
    (tx) => tx.probe.put("c2"),
  ]);
  for (const r of results) expect(String(r)).toContain("FOREIGN KEY constraint failed");
  expect(committedCount("c")).toBe(0);
  expect(db.inTransaction).toBe(false);
  expect(delta(before)).toEqual({ transactions: 0, members: 0 });
  // The connection is handed on clean: the next transaction commits.
  await engine.transaction((tx) => tx.probe.put("c9"));
  expect(committed("c9")).toBe(1);
});

test("SQLite leaving the transaction mid-batch: the members that ran reject, the rest run in a fresh one", async () => {
  const before = engine.stats();
  const results = await together(engine, [
    (tx) => tx.probe.put("d0"),
    async (tx) => {
      await tx.probe.put("d1");
      await tx.probe.lose();
    },
    (tx) => tx.probe.put("d2"),
    (tx) => tx.probe.put("d3"),
  ]);
  expect(results[0]).toBeInstanceOf(BatchRolledBack);
  expect(((results[0] as Error).cause as Error).message).toBe("disk I/O error");
  expect((results[1] as Error).message).toBe("disk I/O error");
  expect(results.slice(2)).toEqual([{ resolved: undefined }, { resolved: undefined }]);
  expect([committed("d0"), committed("d1"), committed("d2"), committed("d3")]).toEqual([null, null, 1, 1]);
  expect(delta(before)).toEqual({ transactions: 1, members: 2 });
});

test("inside a batch members run one at a time; a handle kept past its body refuses; nesting is refused", async () => {
  const log: string[] = [];
  let leaked: Promise<unknown> | undefined;
  const results = await together(engine, [
    async (tx) => {
      log.push("e0 start");
      await tx.probe.put("e0");
      // Runs while the next member's body waits on its timer, in the same SQLite transaction: it must not write.
      leaked = new Promise((r) => setTimeout(r, 1)).then(() => rejectionOf(tx.probe.put("e-leak")));
      log.push("e0 end");
    },
    async (tx) => {
      log.push("e1 start");
      await new Promise((r) => setTimeout(r, 20));
      await tx.probe.put("e1");
      log.push("e1 end");
    },
    async (tx) => {
      log.push("e2 start");
      await tx.probe.put("e2");
      return rejectionOf(engine.transaction((inner) => inner.probe.put("e-nested")));
    },
  ]);
  expect(log).toEqual(["e0 start", "e0 end", "e1 start", "e1 end", "e2 start"]);
  expect(await leaked).toBeInstanceOf(TransactionClosed);
  expect((results[2] as { resolved: unknown }).resolved).toBeInstanceOf(NestedTransaction);
  expect([committed("e0"), committed("e1"), committed("e2")]).toEqual([1, 1, 1]);
  expect([committed("e-leak"), committed("e-nested")]).toEqual([null, null]);
});

test("reads run apart from writes, read-only; the reads waiting together share one transaction", async () => {
  const before = engine.stats();
  const [w1, r1, w2, r2, r3] = await Promise.all([
    rejectionOf(engine.transaction((tx) => tx.probe.put("f0"))),
    rejectionOf(engine.read((tx) => tx.probe.count("f"))),
    rejectionOf(engine.transaction((tx) => tx.probe.put("f1"))),
    rejectionOf(engine.read((tx) => tx.probe.put("f-read"))),
    rejectionOf(engine.read((tx) => tx.probe.count("f"))),
  ]);
  expect([w1, w2]).toEqual([{ resolved: undefined }, { resolved: undefined }]);
  expect(String(r2)).toContain("readonly");
  // The writes were first in the queue: both reads see both of them (and not the refused write).
  expect([r1, r3]).toEqual([{ resolved: 2 }, { resolved: 2 }]);
  expect(committed("f-read")).toBeNull();
  expect(delta(before)).toEqual({ transactions: 2, members: 5 });
  // The connection writes again afterwards (query_only was reset).
  await engine.transaction((tx) => tx.probe.put("f2"));
  expect(committed("f2")).toBe(1);
});

test(`a batch carries at most ${BATCH_LIMIT} members; a member failing alone (batch 1) rolls back whole`, async () => {
  const before = engine.stats();
  const n = BATCH_LIMIT + 8;
  const results = await together(
    engine,
    Array.from({ length: n }, (_, i) => (tx) => tx.probe.put(`g${i}`)),
  );
  expect(results.every((r) => "resolved" in (r as object))).toBe(true);
  expect(committedCount("g")).toBe(n);
  expect(delta(before)).toEqual({ transactions: 2, members: n });

  const single = sqliteEngine(db, repositories(db), { batch: 1 });
  const boom = new Error("alone");
  const alone = await together(single, [
    async (tx) => {
      await tx.probe.put("h0");
      throw boom;
    },
    (tx) => tx.probe.put("h1"),
  ]);
  expect(alone).toEqual([boom, { resolved: undefined }]);
  expect([committed("h0"), committed("h1")]).toEqual([null, 1]);
});
