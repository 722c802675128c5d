// applyFinalProof, the one completion shared by the scheduler, /transfer/webhook notifications and the operator's
// `resolve paid`, on a real gateway store: the money in flight goes to §12.1's destination for the step, the order
// is paid and the job done in one go; a proof another job used, or an order no longer payable, writes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openGateway, type InspectableGateway } from "../../src/start";
import { applyFinalProof } from "../../src/settlement/settle-job";
import { FUNDING, IN_FLIGHT } from "../../src/domain/ledger-accounts";
import type { Candidate, JobStep } from "../../src/domain/settlement-job";
import type { OrderRecord } from "../../src/store/orders";

const AMOUNT = 2500n;
const PROVIDER_PROOF = { proof: { txid: "p_1" }, signature: "00" };

let dataDir: string;
let gw: InspectableGateway;
let seq = 0;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "oc-final-proof-"));
  gw = openGateway({ overrides: { dataDir, sqliteSynchronous: "NORMAL" } });
});
afterAll(() => {
  gw.store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A confirmed order with its money in flight and its settlement job, as confirm leaves them (§12.3). */
function confirmedOrder(candidates: Candidate[]): { order: OrderRecord; jobId: string } {
  const now = gw.clock();
  const n = ++seq;
  return gw.store.tx(() => {
    const { user } = gw.store.users.create(`final proof ${n}`, now);
    const session = `${n.toString(16).padStart(32, "0")}`;
    const expires = now + 600;
    gw.store.sessions.insert({
      id: session,
      kind: "qr",
      userId: user.id,
      status: "used",
      createdAt: now,
      expiresAt: expires,
    });
    const id = gw.store.orders.insert({
      sessionId: session, callerOcid: 500, merchantOcid: 500, orderId: `ord_${n}`, orderJson: "{}", signature: "00",
      sigForm: "deep", urlsJson: "{}", amount: "25.00", amountMinor: AMOUNT, currency: "USD", userId: user.id,
      confirmDeadline: now + 600, candidates, now,
    });
    expect(gw.store.orders.move(id, { event: "confirm", userId: user.id }, now)).toBe(true);
    const money = { currency: "USD", amount: AMOUNT, reason: "test", orderId: id, now };
    gw.store.ledger.move({ from: FUNDING, to: IN_FLIGHT, ...money });
    const jobId = gw.store.jobs.enqueueSettlement(id, candidates, now, now + 900);
    return { order: gw.store.orders.byId(id)!, jobId };
  });
}

const final = (txid: string) => ({ proof: { txid, issuer: 0 }, signature: "ab".repeat(64) });
const balance = (account: string) => gw.store.ledger.balance(account, "USD");
const apply = (order: OrderRecord, jobId: string, step: JobStep, issuer: number, txid: string) =>
  gw.store.transaction((tx) => applyFinalProof(gw, tx, jobId, order, step, final(txid), issuer, "deep"));

describe("a final proof pays the order into §12.1's account for the step", () => {
  const CASES: readonly [name: string, c: Candidate, step: JobStep, issuer: number, account: string][] = [
    [
      "partner reserve: external:<gateway>",
      { type: "partner_reserve", via: 300 },
      { name: "transfer.create", via: 300 },
      300,
      "external:300",
    ],
    [
      "common third party: external:<the provider the job chose>",
      { type: "common_third_party", via: 400, provider: 700 },
      { name: "payment.settle", via: 400, provider: 701, txid: "pay_1", providerProof: PROVIDER_PROOF },
      400,
      "external:701",
    ],
  ];
  test.each(CASES)("%s", async (_name, c, step, issuer, account) => {
    const { order, jobId } = confirmedOrder([c]);
    const before = { inFlight: balance(IN_FLIGHT), account: balance(account) };
    const txid = `tx_final_${seq}`;
    expect(await apply(order, jobId, step, issuer, txid)).toBe(true);
    expect(gw.store.orders.byId(order.id)).toMatchObject({ status: "paid", finalTxid: txid });
    expect(gw.store.jobs.byId(jobId)!.state).toBe("done");
    expect(balance(IN_FLIGHT)).toBe(before.inFlight - AMOUNT);
    expect(balance(account)).toBe(before.account + AMOUNT);
    expect(gw.store.proofs.received(issuer, txid)).toMatchObject({ jobId, outcome: "settlement" });
  });
});

describe("a proof that cannot pay writes nothing", () => {
  const PARTNER: Candidate = { type: "partner_reserve", via: 300 };
  const STEP: JobStep = { name: "transfer.create", via: 300 };

  test("the same (issuer, txid) for a second job is refused and recorded as reuse", async () => {
    const first = confirmedOrder([PARTNER]);
    const second = confirmedOrder([PARTNER]);
    const txid = `tx_reused_${seq}`;
    expect(await apply(first.order, first.jobId, STEP, 300, txid)).toBe(true);
    const inFlight = balance(IN_FLIGHT);
    expect(await apply(second.order, second.jobId, STEP, 300, txid)).toBe(false);
    expect(gw.store.orders.byId(second.order.id)!.status).toBe("confirmed");
    expect(gw.store.jobs.byId(second.jobId)!.state).toBe("pending");
    expect(balance(IN_FLIGHT)).toBe(inFlight);
    expect(gw.store.anomalies.ofOrder(second.order.id).map((a) => a.kind)).toEqual(["proof_reused"]);
  });

  test("an order already failed (refunded) is not paid by a late proof", async () => {
    const { order, jobId } = confirmedOrder([PARTNER]);
    gw.store.tx(() => gw.store.orders.move(order.id, { event: "fail" }, gw.clock()));
    const inFlight = balance(IN_FLIGHT);
    const txid = `tx_late_${seq}`;
    expect(await apply(order, jobId, STEP, 300, txid)).toBe(false);
    expect(gw.store.orders.byId(order.id)!.status).toBe("failed");
    expect(balance(IN_FLIGHT)).toBe(inFlight);
    expect(gw.store.proofs.received(300, txid)).toBeNull();
  });
});
