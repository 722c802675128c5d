// Group commit starts a commit's fsync at its COMMIT (src/store/durability.ts GroupCommit.committed, called by the
// SQLite port engine), not at the first barrier: POST /app/pay's QR and a submit's signed response are built while
// the -wal is being synced (issue 20). Three properties: the start itself; commits queued behind each other still
// share one fsync (the last of them starts it); and an fsync nobody was waiting for, when it fails, fails the
// commits it was to cover instead of letting a later fsync (which Linux may report clean) acknowledge them.
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { openDatabase } from "../../src/store/db";
import { groupCommitOf, type GroupCommit } from "../../src/store/durability";
import { sqliteEngine } from "../../src/store/sqlite-engine";
import { rejectionOf } from "../helpers/settled";

const dir = mkdtempSync(join(tmpdir(), "oc-gc-eager-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Syncing = { sync: (p: string) => Promise<void> };
let n = 0;
let db: Database;
let gc: GroupCommit;
let engine: ReturnType<typeof open>["engine"];
/** fsyncs asked for; while `gate` is set each waits for it; `failNext` makes the next one fail */
let syncCalls: number;
let gate: { promise: Promise<void>; open: () => void } | null;
let failNext: Error | null;

function open() {
  const db = openDatabase(join(dir, `gateway-${n++}.db`), "FULL", { groupCommit: true });
  db.exec("CREATE TABLE probe (x INTEGER)");
  const repos = { probe: { add: (x: number) => void db.run("INSERT INTO probe VALUES (?)", [x]) } };
  return { db, engine: sqliteEngine(db, repos) };
}

beforeEach(async () => {
  ({ db, engine } = open());
  gc = groupCommitOf(db)!;
  await gc.durable();
  syncCalls = 0;
  gate = null;
  failNext = null;
  const real = (gc as unknown as Syncing).sync;
  (gc as unknown as Syncing).sync = async (p) => {
    syncCalls++;
    if (gate) await gate.promise;
    const failure = failNext;
    failNext = null;
    if (failure) throw failure;
    return real(p);
  };
});

function closeGate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  gate = { promise, open: () => ((gate = null), open()) };
}

test("a port transaction's COMMIT starts its fsync before anyone waits for durability", async () => {
  closeGate();
  // Control: a write outside the port engine starts nothing, so the count below moves only because of the COMMIT.
  db.exec("INSERT INTO probe VALUES (0)");
  await Bun.sleep(5);
  expect(syncCalls).toBe(0);

  await engine.transaction((tx) => tx.probe.add(1));
  expect(syncCalls).toBe(1);
  let acknowledged = false;
  const wait = gc.durable().then(() => (acknowledged = true));
  await Bun.sleep(20);
  expect(acknowledged).toBe(false); // still the barrier: the fsync started early but has not completed
  gate!.open();
  await wait;
  expect(syncCalls).toBe(1); // the early round covered both writes: the wait did not need another
  db.close();
});

test("transactions queued behind each other share one early fsync: the last to commit starts it", async () => {
  closeGate();
  await Promise.all([1, 2, 3, 4].map((x) => engine.transaction((tx) => tx.probe.add(x))));
  expect(syncCalls).toBe(1);
  gate!.open();
  await gc.durable();
  expect(syncCalls).toBe(1);
  db.close();
});

test("an early fsync that fails fails the commits it was to cover, until an fsync covers them", async () => {
  const broken = new Error("EIO: i/o error, fdatasync");
  failNext = broken;
  await engine.transaction((tx) => tx.probe.add(1));
  await Bun.sleep(5); // the early round has failed, and nobody was waiting on it
  expect(syncCalls).toBe(1);
  // Without the kept failure this wait would run a new fsync, succeed and acknowledge the commit.
  expect(await rejectionOf(gc.durable())).toBe(broken);
  // The refusal started a retry round, which succeeds (storage is back) and covers the commit.
  while (gc.pending()) await Bun.sleep(2);
  expect(syncCalls).toBe(2);
  await gc.durable();
  await engine.transaction((tx) => tx.probe.add(2));
  await gc.durable();
  expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM probe").get()!.n).toBe(2);
  db.close();
});
