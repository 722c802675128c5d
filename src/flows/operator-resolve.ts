// §12.4: the operator settles what the scheduler must not decide alone (an `in_review` order, value may have
// moved): `paid` with a proof verified like any other, or `refund` after reconciling with the peer.
import type { Gateway } from "../gateway";
import { OperatorError } from "./accounts";
import { checkProof } from "../protocol/proof-check";
import { applyFinalProof, paidPush, refundInFlight, type Signed } from "../settlement/settle-job";
import { commit, only, push } from "../settlement/effects";
import { paymentUpdateMessage } from "../notify/messages";
import { canOperatorResolve } from "../domain/order-lifecycle";
import { finalProofExpected, readStep, type Candidate } from "../domain/settlement-job";

export async function resolveOrder(
  gw: Gateway,
  orderRowId: number,
  action: "paid" | "refund",
  proofFile?: unknown,
): Promise<string> {
  const { order, job } = await gw.store.read(async (tx) => {
    const order = await tx.orders.byId(orderRowId);
    return { order, job: order ? await tx.jobs.byOrder(order.id) : null };
  });
  if (!order) throw new OperatorError(`no order with id ${orderRowId}`);
  if (!canOperatorResolve(order.status))
    throw new OperatorError(`order ${orderRowId} is ${order.status}; only in_review orders are resolved by hand`);
  if (!job) throw new OperatorError(`order ${orderRowId} has no settlement job`);
  const c = (JSON.parse(job.candidatesJson) as Candidate[])[job.pathIndex];

  if (action === "refund") {
    const now = gw.clock();
    const done = await commit(gw, async (tx) => {
      if (!(await tx.orders.move(order.id, { event: "operator_refund" }, now))) return only(false);
      await refundInFlight(gw, tx, order, now);
      await tx.jobs.refundedByOperator(job.id, now);
      await tx.anomalies.resolveForOrder(order.id, now);
      const failed = paymentUpdateMessage({ sessionId: order.sessionId, status: "failed", finalTxid: null });
      return { value: true, effects: [push(order.userId, failed)] };
    });
    if (!done) throw new OperatorError("the order changed meanwhile; look again");
    return `order ${orderRowId} refunded to user_${order.userId}`;
  }

  const parties = { merchantOcid: order.merchantOcid, orderId: order.orderId };
  const expected = c ? finalProofExpected(c, parties) : null;
  if (!c || !expected) throw new OperatorError("this order was not settled through a peer");
  const step = readStep(job.step, JSON.parse(job.stepData), c);
  if ("invalid" in step) throw new OperatorError(`the settlement job cannot take a proof: ${step.invalid}`);
  const signed = proofFile as Signed;
  if (!signed || typeof signed !== "object" || typeof signed.signature !== "string")
    throw new OperatorError('the proof file must hold {"proof": {...}, "signature": "..."}');
  const meta = await gw.directory.resolve(expected.issuer);
  const check = checkProof(
    signed.proof,
    signed.signature,
    meta.publicKey,
    { ...expected, amount: order.amount, currency: order.currency },
    { now: gw.clock(), acceptReplacer: gw.config.acceptReplacerCanonical, currencies: gw.currencies },
  );
  if (!check.ok) throw new OperatorError(`proof rejected: ${check.code} ${check.reason}`);
  const txid = String(signed.proof.txid);
  const ok = await commit(gw, async (tx) => {
    if (!(await applyFinalProof(gw, tx, job.id, order, step, signed, expected.issuer, check.form))) return only(false);
    await tx.anomalies.resolveForOrder(order.id, gw.clock());
    return { value: true, effects: [paidPush(order, txid)] };
  });
  if (!ok) throw new OperatorError("the proof could not be applied (already used, or the order changed)");
  return `order ${orderRowId} marked paid with ${String(signed.proof.txid)}`;
}
