// One attempt of an outbound person-to-person transfer (issue 17) under the settlement rules (§12.4/§12.5): a signed
// /transfer/create to the recipient's gateway with the row id as Idempotency-Key; a verified proof settles it
// (settlement_in_flight → external:<gateway>); a definite refusal before anything could have moved refunds; an
// unknown outcome pins the row and is retried with the same key and bytes, never refunded automatically.
import type { Gateway } from "../gateway";
import type { P2pRow } from "../store/p2p-transfers";
import { externalAccount, IN_FLIGHT, userAccount } from "../store/ledger";
import { verifiedReturnedProof, type Signed } from "./returned-proof";
import { classify } from "./classify";
import { recordAnomaly } from "./settle-job";
import { REVIEW_HORIZON_SECONDS, REVIEW_RETRY_SECONDS, settlementRetryDelay } from "../domain/settlement-job";
import { transferUpdateMessage } from "../notify/p2p-messages";
import { claimTxid } from "./txid-registry";
import { commit, only, push, type Effect } from "./effects";
import type { Tx } from "../store";
import { IDEMPOTENCY_TTL } from "../protocol/idempotency";
import type { RunLease } from "./run-lease";

export type P2pRunResult = "paid" | "refunded" | "retry" | "in_review";

const HOUR_SECONDS = 3600;
/** Resends stop an hour before the recipient gateway may forget our Idempotency-Key (§9.7: 24 h). */
export const RESEND_WINDOW = IDEMPOTENCY_TTL - HOUR_SECONDS;

/** The fields an outbound run needs, all present (a row without them is not an outbound transfer). */
type Outbound = P2pRow & { via: number; toOcid: number; requestBody: string };
const isOutbound = (row: P2pRow): row is Outbound =>
  row.kind === "outbound" && row.via !== null && row.toOcid !== null && row.requestBody !== null;

export async function runOutboundTransfer(gw: Gateway, row: P2pRow, lease: RunLease): Promise<P2pRunResult> {
  if (!isOutbound(row) || row.state !== "pending") {
    await gw.store.transaction((tx) => tx.p2pOutbound.release(row.id, lease.owner));
    return "retry";
  }
  // §9.7 idempotency records live 24 h: past that, a resend under the same key could pay a second time.
  if (gw.clock() > row.createdAt + RESEND_WINDOW)
    return finishReview(gw, row, lease, "the recipient gateway's idempotency window is closing");
  lease.ensure();
  const res = await gw.peers.call(row.via, "POST", "/transfer/create", undefined, {
    rawBody: row.requestBody,
    idempotencyKey: row.id,
    timeoutMs: gw.config.outboundTimeouts.settlementMs,
  });
  const out = classify(res);
  if (out.kind === "success") {
    const v = await verifiedProof(gw, out.res.json, row);
    if (!v.ok) return retryLater(gw, row, lease, v.reason, undefined, true);
    return complete(gw, row, lease, v.signed);
  }
  if (out.kind === "definite") {
    const why = out.code ? `${out.reason} ${out.code}` : out.reason;
    if (row.pinned) return finishReview(gw, row, lease, `definite refusal after an unknown outcome: ${why}`);
    return refund(gw, row, lease, why);
  }
  return retryLater(gw, row, lease, out.reason, out.retryAfter, !!out.anomaly);
}

/** §13.3 with §12.5's expectations: issuer = that gateway, to = the person's OCID with our transfer id as reference,
 * same amount and currency. */
const verifiedProof = (gw: Gateway, raw: unknown, row: Outbound) =>
  verifiedReturnedProof(gw, raw, {
    issuer: row.via,
    to: { ocid: row.toOcid, reference: row.id },
    amount: row.amount,
    currency: row.currency,
  });

async function complete(gw: Gateway, row: Outbound, lease: RunLease, signed: Signed): Promise<P2pRunResult> {
  const now = gw.clock();
  const txid = String(signed.proof.txid);
  const issuer = row.via;
  const proofJson = JSON.stringify(signed.proof);
  const done = await commit(gw, async (tx) => {
    // (issuer, txid) names one transfer: a proof already used for anything else is a replay, not a payment.
    const claim = await claimTxid(tx.proofs, {
      issuer,
      txid,
      jobId: row.id,
      document: proofJson,
      signature: signed.signature,
      sigForm: "deep",
      outcome: "p2p_transfer",
      now,
    });
    if (claim === "taken") {
      await recordAnomaly(gw, tx, "proof_reused", null, null, `p2p ${row.id}: ${issuer}/${txid} already used`);
      await lease.hold(tx, now);
      return only(false);
    }
    await lease.fenced(tx.p2pOutbound.paid(row.id, lease.owner, { txid, proofJson, signature: signed.signature, now }));
    await tx.ledger.move({
      from: IN_FLIGHT,
      to: externalAccount(issuer),
      currency: row.currency,
      amount: BigInt(row.amountMinor),
      reason: "p2p_settled",
      ref: `${issuer}|${txid}`,
      now,
    });
    return { value: true, effects: [await notify(gw, tx, row)] };
  });
  if (!done) return retryLater(gw, row, lease, "proof could not be applied", undefined, true);
  return "paid";
}

async function refund(gw: Gateway, row: Outbound, lease: RunLease, reason: string): Promise<P2pRunResult> {
  const now = gw.clock();
  const done = await commit(gw, async (tx) => {
    await lease.fenced(tx.p2pOutbound.refunded(row.id, lease.owner, reason, now));
    await tx.ledger.move({
      from: IN_FLIGHT,
      to: userAccount(row.userId),
      currency: row.currency,
      amount: BigInt(row.amountMinor),
      reason: "refund",
      ref: row.id,
      now,
    });
    return { value: true, effects: [await notify(gw, tx, row)] };
  });
  const facts = { transfer: row.id, via: row.via, reason, refunded: done };
  gw.log.warn("transfer refused by the recipient's gateway; sender refunded", facts);
  return done ? "refunded" : "retry";
}

async function retryLater(
  gw: Gateway,
  row: Outbound,
  lease: RunLease,
  reason: string,
  retryAfter: number | undefined,
  anomaly: boolean,
): Promise<P2pRunResult> {
  const now = gw.clock();
  const overdue = now > row.deadline;
  const horizon = Math.min(row.deadline + REVIEW_HORIZON_SECONDS, row.createdAt + RESEND_WINDOW);
  if (now > horizon) return finishReview(gw, row, lease, `reconciliation horizon passed; last: ${reason}`);
  const delay = overdue ? REVIEW_RETRY_SECONDS : Math.max(settlementRetryDelay(row.attempts + 1), retryAfter ?? 0);
  await gw.store.transaction(async (tx) => {
    const reviewNoted = overdue ? 1 : row.reviewNoted;
    await lease.fenced(tx.p2pOutbound.retryLater(row.id, lease.owner, { at: now + delay, reason, reviewNoted, now }));
    if (anomaly) await recordAnomaly(gw, tx, "transfer_response_invalid", null, null, `p2p ${row.id}: ${reason}`);
    if (overdue && !row.reviewNoted) {
      const detail = `p2p ${row.id} to ${row.toOcid} via ${row.via}: ${reason}`;
      await recordAnomaly(gw, tx, "unresolved_transfer", null, null, detail);
    }
  });
  gw.log.info("transfer outcome unknown; will retry", { transfer: row.id, reason, inSeconds: delay });
  return "retry";
}

/** Value may have moved: the money stays in flight and the operator reconciles with the peer. */
async function finishReview(gw: Gateway, row: P2pRow, lease: RunLease, reason: string): Promise<P2pRunResult> {
  const now = gw.clock();
  await commit(gw, async (tx) => {
    await lease.fenced(tx.p2pOutbound.toReview(row.id, lease.owner, reason, now));
    await recordAnomaly(gw, tx, "unresolved_transfer", null, null, `p2p ${row.id}: ${reason}`);
    return { value: undefined, effects: [await notify(gw, tx, row)] };
  });
  gw.log.warn("transfer needs review", { transfer: row.id, reason });
  return "in_review";
}

/**
 * The sender sees the transfer as committed: the message is built from the row as the transaction leaves it (read
 * last in it), and pushed after the commit.
 */
async function notify(gw: Gateway, tx: Tx, row: P2pRow): Promise<Effect> {
  const now = await tx.p2p.byId(row.id);
  return push(row.userId, now ? await transferUpdateMessage(gw, tx, now) : () => null);
}
