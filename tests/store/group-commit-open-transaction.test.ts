// Group commit (src/store/durability.ts) counts commits with total_changes(), which also counts the rows of a
// transaction that is still open. A port transaction can be open between two awaits while another request asks for
// durability: the fsync that runs then must not be taken to cover the open transaction's rows, or the request that
// commits them later would be acknowledged with nothing on disk.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { groupCommitOf } from "../../src/store/durability";

const dir = mkdtempSync(join(tmpdir(), "oc-gc-open-tx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a durability wait that starts while a transaction is open resolves only after an fsync that follows its COMMIT", async () => {
  const db = openDatabase(join(dir, "gateway.db"), "FULL", { groupCommit: true });
  const gc = groupCommitOf(db)!;
  type Syncing = { sync: (p: string) => Promise<void> };
  const real = (gc as unknown as Syncing).sync;
  const rounds: boolean[] = []; // for each fsync: was a transaction open when it started?
  (gc as unknown as Syncing).sync = async (p) => {
    rounds.push(db.inTransaction);
    await Bun.sleep(5);
    return real(p);
  };
  db.exec("CREATE TABLE probe (x INTEGER)");
  await gc.durable();

  db.exec("BEGIN IMMEDIATE");
  db.exec("INSERT INTO probe VALUES (1)");
  let acknowledged = false;
  const wait = gc.durable().then(() => (acknowledged = true));
  await Bun.sleep(60); // several fsync rounds while the transaction stays open
  expect(acknowledged).toBe(false);
  expect(rounds.length).toBeGreaterThan(1);

  db.exec("COMMIT");
  await wait;
  expect(rounds.at(-1)).toBe(false); // the round that let it through started after the COMMIT
  db.close();
});
