// Received proofs are claim-first (issue 14 item 3, precondition of issue 18): the INSERT … ON CONFLICT DO NOTHING
// RETURNING decides who holds an (issuer, txid), not a read before it, so concurrent claims — in one process or
// from two connections on one database — cannot both win, whatever the engine's concurrency. Through the port only.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { createStore, type Store } from "../../src/store";
import { claimTxid, type TxidClaim } from "../../src/settlement/txid-registry";

const CONCURRENT = 12;
const file = join(mkdtempSync(join(tmpdir(), "oc-received-")), "g.sqlite");
const a = createStore(openDatabase(file, "NORMAL"));
const b = createStore(openDatabase(file, "NORMAL"));
afterAll(() => {
  a.close();
  b.close();
});

let seq = 0;
const claimOf = (txid: string, jobId: string | null): TxidClaim => ({
  issuer: 300,
  txid,
  jobId,
  document: JSON.stringify({ txid, by: jobId }),
  signature: "00",
  sigForm: "deep",
  outcome: "settlement",
  now: 1_700_000_000,
});
const claim = (store: Store, c: TxidClaim) => store.transaction((tx) => claimTxid(tx.proofs, c));

describe("claimTxid: one (issuer, txid), one holder", () => {
  test(`${CONCURRENT} concurrent jobs claim one txid: exactly one is fresh, every other is taken`, async () => {
    const txid = `tx_race_${++seq}`;
    const results = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => claim(i % 2 ? b : a, claimOf(txid, `job_${i}`))),
    );
    expect(results.filter((r) => r === "fresh")).toHaveLength(1);
    expect(results.filter((r) => r === "taken")).toHaveLength(CONCURRENT - 1);
    const winner = `job_${results.indexOf("fresh")}`;
    expect(await a.read((tx) => tx.proofs.received(300, txid))).toMatchObject({ jobId: winner });
  });

  test("the holder may claim again (same_job, newer document); nobody else, and no credit, ever", async () => {
    const txid = `tx_again_${++seq}`;
    expect(await claim(a, claimOf(txid, "job_a"))).toBe("fresh");
    expect(await claim(b, { ...claimOf(txid, "job_a"), document: "newer" })).toBe("same_job");
    expect(await claim(a, claimOf(txid, "job_b"))).toBe("taken");
    expect(await claim(b, claimOf(txid, null))).toBe("taken");
    expect(await b.read((tx) => tx.proofs.received(300, txid))).toMatchObject({ jobId: "job_a" });
  });

  test("concurrent webhook claims of one credit: one request takes it, the others find the row", async () => {
    const txid = `tx_credit_${++seq}`;
    const row = { ...claimOf(txid, null), outcome: "pending", replyJson: null };
    const won = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        (i % 2 ? b : a).transaction((tx) => tx.proofs.claimReceived(row)),
      ),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
  });
});

describe("recordWebhookReply", () => {
  const reply = (txid: string, status: string) => ({
    issuer: 300,
    txid,
    document: "{}",
    signature: "00",
    sigForm: "deep",
    outcome: status,
    replyJson: JSON.stringify({ status, txid }),
    now: 1_700_000_001,
  });

  test("fills the row its request claimed, once: a later answer never replaces the stored one", async () => {
    const txid = `tx_reply_${++seq}`;
    await a.transaction(async (tx) => {
      expect(await tx.proofs.claimReceived({ ...claimOf(txid, null), outcome: "pending", replyJson: null })).toBe(true);
      await tx.proofs.recordWebhookReply(reply(txid, "accepted"));
    });
    await b.transaction((tx) => tx.proofs.recordWebhookReply(reply(txid, "rejected")));
    const stored = await a.read((tx) => tx.proofs.received(300, txid));
    expect(stored).toMatchObject({ jobId: null, outcome: "accepted" });
    expect(JSON.parse(stored!.replyJson!)).toEqual({ status: "accepted", txid });
  });

  test("a row a settlement job owns keeps no stored reply (its replays are judged again)", async () => {
    const txid = `tx_owned_${++seq}`;
    expect(await claim(a, claimOf(txid, "job_owner"))).toBe("fresh");
    await b.transaction((tx) => tx.proofs.recordWebhookReply(reply(txid, "accepted")));
    expect(await a.read((tx) => tx.proofs.received(300, txid))).toEqual({
      jobId: "job_owner",
      replyJson: null,
      outcome: "settlement",
    });
  });
});
