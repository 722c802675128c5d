// §12.4: the operator settles what the scheduler must not decide alone (an `in_review` order, value may have
// moved): `paid` with a proof verified like any other, or `refund` after reconciling with the peer.
import type { Gateway } from "../gateway";
import { OperatorError } from "./accounts";
import { checkProof } from "../protocol/proof-check";
import type { Candidate } from "../settlement/candidates";
import { afterPaid, applyFinalProof, type Signed } from "../settlement/settle-job";
import { externalAccount, IN_FLIGHT, userAccount } from "../store/ledger";
import { paymentUpdateMessage } from "./messages";
import { emitOrderEvent } from "./operator-events";

export async function resolveOrder(gw: Gateway, orderRowId: number, action: "paid" | "refund", proofFile?: unknown): Promise<string> {
  const order = gw.store.orders.byId(orderRowId);
  if (!order) throw new OperatorError(`no order with id ${orderRowId}`);
  if (order.status !== "in_review") throw new OperatorError(`order ${orderRowId} is ${order.status}; only in_review orders are resolved by hand`);
  const job = gw.store.jobs.byOrder(order.id);
  if (!job) throw new OperatorError(`order ${orderRowId} has no settlement job`);
  const c = (JSON.parse(job.candidates_json) as Candidate[])[job.path_index];
  const data = JSON.parse(job.step_data) as { provider?: number };

  if (action === "refund") {
    const now = gw.clock();
    const done = gw.store.tx(() => {
      if (!gw.store.orders.move(order.id, { event: "operator_refund" }, now)) return false;
      gw.store.ledger.move({ from: IN_FLIGHT, to: userAccount(order.user_id!), currency: order.currency, amount: order.amount_minor, reason: "refund", orderId: order.id, now });
      emitOrderEvent(gw, "payment.failed", order, "failed", null);
      gw.db.query("UPDATE jobs SET state = 'failed', last_error = 'refunded by operator', lease_owner = NULL, updated_at = ? WHERE id = ?").run(now, job.id);
      gw.db.query("UPDATE anomalies SET resolved_at = ? WHERE order_id = ? AND resolved_at IS NULL").run(now, order.id);
      return true;
    });
    if (!done) throw new OperatorError("the order changed meanwhile; look again");
    gw.hub.send(order.user_id, paymentUpdateMessage({ session_id: order.session_id, status: "failed", final_txid: null }));
    return `order ${orderRowId} refunded to user_${order.user_id}`;
  }

  if (!c || (c.type !== "partner_reserve" && c.type !== "common_third_party")) throw new OperatorError("this order was not settled through a peer");
  const signed = proofFile as Signed;
  if (!signed || typeof signed !== "object" || typeof signed.signature !== "string") throw new OperatorError("the proof file must hold {\"proof\": {...}, \"signature\": \"...\"}");
  const meta = await gw.directory.resolve(c.via);
  const check = checkProof(signed.proof, signed.signature, meta.publicKey, {
    issuer: c.via,
    to: { ocid: order.merchant_ocid, reference: order.order_id },
    amount: order.amount,
    currency: order.currency,
  }, { now: gw.clock(), acceptReplacer: gw.config.acceptReplacerCanonical, currencies: gw.currencies });
  if (!check.ok) throw new OperatorError(`proof rejected: ${check.code} ${check.reason}`);
  const destination = c.type === "partner_reserve" ? externalAccount(c.via) : externalAccount(data.provider ?? c.provider);
  const ok = gw.store.tx(() => {
    const applied = applyFinalProof(gw, job.id, order, c.type, signed, c.via, destination, check.form);
    if (applied) gw.db.query("UPDATE anomalies SET resolved_at = ? WHERE order_id = ? AND resolved_at IS NULL").run(gw.clock(), order.id);
    return applied;
  });
  if (!ok) throw new OperatorError("the proof could not be applied (already used, or the order changed)");
  afterPaid(gw, order, String(signed.proof.txid));
  return `order ${orderRowId} marked paid with ${String(signed.proof.txid)}`;
}
