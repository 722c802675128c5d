// applyFinalProof, the one completion shared by the scheduler, /transfer/webhook notifications and the operator's
// `resolve paid`, on a real gateway store (either engine): the money in flight goes to §12.1's destination for the
// step, the order is paid and the job done in one go; a proof another job used, or an order no longer payable,
// writes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway } from "../helpers/gateway";
import { portBalance } from "../helpers/wallet";
import { applyFinalProof } from "../../src/settlement/settle-job";
import { FUNDING, IN_FLIGHT } from "../../src/domain/ledger-accounts";
import type { Candidate, JobStep } from "../../src/domain/settlement-job";
import type { OrderRecord } from "../../src/store/orders";

const AMOUNT = 2500n;
const PROVIDER_PROOF = { proof: { txid: "p_1" }, signature: "00" };

let tg: PortTestGateway;
let gw: PortTestGateway["gw"];
let seq = 0;

beforeAll(async () => {
  tg = await startPortTestGateway();
  // The jobs made here are the test's to complete: no scheduler may run them against peers that do not exist.
  await tg.scheduler.stop();
  gw = tg.gw;
});
afterAll(() => tg.close());

/** A confirmed order with its money in flight and its settlement job, as confirm leaves them (§12.3). */
function confirmedOrder(candidates: Candidate[]): Promise<{ order: OrderRecord; jobId: string }> {
  const now = gw.clock();
  const n = ++seq;
  return gw.store.transaction(async (tx) => {
    const { user } = await tx.users.create(`final proof ${n}`, now);
    const session = `${n.toString(16).padStart(32, "0")}`;
    const expires = now + 600;
    await tx.sessions.insert({
      id: session,
      kind: "qr",
      userId: user.id,
      status: "used",
      createdAt: now,
      expiresAt: expires,
    });
    const id = await tx.orders.insert({
      sessionId: session, callerOcid: 500, merchantOcid: 500, orderId: `ord_${n}`, orderJson: "{}", signature: "00",
      sigForm: "deep", urlsJson: "{}", amount: "25.00", amountMinor: AMOUNT, currency: "USD", userId: user.id,
      confirmDeadline: now + 600, candidates, now,
    });
    expect(await tx.orders.move(id, { event: "confirm", userId: user.id }, now)).toBe(true);
    const money = { currency: "USD", amount: AMOUNT, reason: "test", orderId: id, now };
    await tx.ledger.move({ from: FUNDING, to: IN_FLIGHT, ...money });
    const jobId = await tx.jobs.enqueueSettlement(id, candidates, now, now + 900);
    return { order: (await tx.orders.byId(id))!, jobId };
  });
}

const final = (txid: string) => ({ proof: { txid, issuer: 0 }, signature: "ab".repeat(64) });
const balance = (account: string) => portBalance(tg, account, "USD");
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
    const { order, jobId } = await confirmedOrder([c]);
    const before = { inFlight: await balance(IN_FLIGHT), account: await balance(account) };
    const txid = `tx_final_${seq}`;
    expect(await apply(order, jobId, step, issuer, txid)).toBe(true);
    expect(await gw.store.read((tx) => tx.orders.byId(order.id))).toMatchObject({ status: "paid", finalTxid: txid });
    expect((await gw.store.read((tx) => tx.jobs.byId(jobId)))!.state).toBe("done");
    expect(await balance(IN_FLIGHT)).toBe(before.inFlight - AMOUNT);
    expect(await balance(account)).toBe(before.account + AMOUNT);
    expect(await gw.store.read((tx) => tx.proofs.received(issuer, txid))).toMatchObject({ jobId, outcome: "settlement" });
  });
});

describe("a proof that cannot pay writes nothing", () => {
  const PARTNER: Candidate = { type: "partner_reserve", via: 300 };
  const STEP: JobStep = { name: "transfer.create", via: 300 };

  test("the same (issuer, txid) for a second job is refused and recorded as reuse", async () => {
    const first = await confirmedOrder([PARTNER]);
    const second = await confirmedOrder([PARTNER]);
    const txid = `tx_reused_${seq}`;
    expect(await apply(first.order, first.jobId, STEP, 300, txid)).toBe(true);
    const inFlight = await balance(IN_FLIGHT);
    expect(await apply(second.order, second.jobId, STEP, 300, txid)).toBe(false);
    expect((await gw.store.read((tx) => tx.orders.byId(second.order.id)))!.status).toBe("confirmed");
    expect((await gw.store.read((tx) => tx.jobs.byId(second.jobId)))!.state).toBe("pending");
    expect(await balance(IN_FLIGHT)).toBe(inFlight);
    expect((await gw.store.read((tx) => tx.anomalies.ofOrder(second.order.id))).map((a) => a.kind)).toEqual(["proof_reused"]);
  });

  test("an order already failed (refunded) is not paid by a late proof", async () => {
    const { order, jobId } = await confirmedOrder([PARTNER]);
    await gw.store.transaction((tx) => tx.orders.move(order.id, { event: "fail" }, gw.clock()));
    const inFlight = await balance(IN_FLIGHT);
    const txid = `tx_late_${seq}`;
    expect(await apply(order, jobId, STEP, 300, txid)).toBe(false);
    expect((await gw.store.read((tx) => tx.orders.byId(order.id)))!.status).toBe("failed");
    expect(await balance(IN_FLIGHT)).toBe(inFlight);
    expect(await gw.store.read((tx) => tx.proofs.received(300, txid))).toBeNull();
  });
});
