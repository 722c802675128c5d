// §12.4–§12.9: one run of a settlement job. Each run performs at most the job's current step (plus the steps
// that follow at once after a success), records the outcome in SQLite, and leaves the job where a restart can
// pick it up. Value-moving steps pin the job; a pinned job is never refunded automatically.
import type { Gateway } from "../gateway";
import type { OrderMove, OrderRecord } from "../store/orders";
import type { JobRow } from "../store/jobs";
import { firstStep } from "../store/jobs";
import { externalAccount, IN_FLIGHT, isBalanceOverflow, peerAccount, userAccount } from "../store/ledger";
import type { Candidate } from "./candidates";
import { providersFor } from "./candidates";
import { classify, settlementRetryDelay, type Outcome } from "./classify";
import { issueProof } from "./proofs";
import { verifiedReturnedProof } from "./returned-proof";
import { amountsEqual } from "../protocol/money";
import { paymentUpdateMessage } from "../flows/messages";
import { emitOrderEvent } from "../flows/operator-events";
import { claimTxid, txidUse, type TxidClaim } from "./txid-registry";

export const REVIEW_RETRY_SECONDS = 600;
export const REVIEW_HORIZON_SECONDS = 72 * 3600;
export const VALUE_MOVING = new Set(["transfer.create", "provider.transfer.create"]);

type StepData = {
  txid?: string;
  provider?: number;
  providerProof?: { proof: unknown; signature: string };
};

export type { Signed } from "./returned-proof";
import type { Signed } from "./returned-proof";

/**
 * A txid a step's success depends on, claimed in the transaction that moves the job on. `onTaken`: what it means
 * when another job or a credit already holds it (payment.create moved nothing: definite; a provider transfer may
 * have moved value: ambiguous, the job stays pinned and ends in review).
 */
type StepClaim = Omit<TxidClaim, "jobId" | "now"> & { onTaken: "definite" | "ambiguous" };

/** What a step produced. `next` continues with another step of the same candidate. */
type StepResult =
  | { kind: "next"; step: string; data: StepData; claim?: StepClaim }
  | { kind: "paid"; final: Signed; destination: string; issuer: number }
  | { kind: "issued" }
  | Exclude<Outcome, { kind: "success" }>
  | { kind: "review"; reason: string };

export type JobRunResult = "paid" | "failed" | "in_review" | "retry" | "skipped";

export async function runSettlementJob(gw: Gateway, job: JobRow, owner: string): Promise<JobRunResult> {
  const order = gw.store.orders.byId(job.order_id);
  if (!order) return finishJob(gw, job, owner, "failed", "order missing"), "failed";
  const now = gw.clock();

  if (now > job.deadline) {
    if (!job.pinned) return refund(gw, job, order, owner, "settlement deadline passed"), "failed";
    if (order.status === "confirmed") toReview(gw, job, order, owner, "deadline passed after an unknown outcome");
    if (now > job.deadline + REVIEW_HORIZON_SECONDS) return finishJob(gw, job, owner, "in_review", "reconciliation horizon passed"), "in_review";
  }

  const candidates = JSON.parse(job.candidates_json) as Candidate[];
  let current = job;
  for (let guard = 0; guard < 6; guard++) {
    const candidate = candidates[current.path_index];
    if (!candidate) return refund(gw, current, order, owner, "no settlement path left"), "failed";
    if (order.settlement_type !== candidate.type || order.settlement_via !== ("via" in candidate ? candidate.via : null))
      gw.store.tx(() => gw.store.orders.setSettlement(order.id, candidate.type, "via" in candidate ? candidate.via : null, gw.clock()));
    const data = JSON.parse(current.step_data) as StepData;
    let result = await runStep(gw, current, order, candidate, data, owner);
    if (result.kind === "next") {
      const advanced = advance(gw, current, owner, result.step, result.data, result.claim);
      if (advanced) {
        current = advanced;
        continue;
      }
      result = txidTaken(gw, current, order, result.claim!);
    }
    switch (result.kind) {
      case "issued":
        return "paid";
      case "paid":
        return completePaid(gw, current, order, owner, candidate, result) ? "paid" : "retry";
      case "ambiguous":
        return retryLater(gw, current, order, owner, result), "retry";
      case "review":
        return toReview(gw, current, order, owner, result.reason, true), "in_review";
      case "definite": {
        if (current.pinned) return toReview(gw, current, order, owner, `definite failure after value may have moved: ${result.reason}`, true), "in_review";
        const next = current.path_index + 1;
        if (next >= candidates.length) return refund(gw, current, order, owner, `every path failed; last: ${result.reason}`), "failed";
        current = nextCandidate(gw, current, owner, next, firstStep(candidates[next]), result.reason);
        continue;
      }
    }
  }
  return release(gw, current, owner), "retry";
}

// ---------------------------------------------------------------- steps

async function runStep(gw: Gateway, job: JobRow, order: OrderRecord, c: Candidate, data: StepData, owner: string): Promise<StepResult> {
  switch (job.step) {
    case "direct.credit":
    case "checkout.credit":
      return creditLocally(gw, job, order, c, owner);
    case "transfer.create":
      return partnerTransfer(gw, job, order, c as Extract<Candidate, { type: "partner_reserve" }>);
    case "payment.create":
      return paymentCreate(gw, job, order, c as Extract<Candidate, { type: "common_third_party" }>);
    case "provider.transfer.create":
      return providerTransfer(gw, job, order, c as Extract<Candidate, { type: "common_third_party" }>, data);
    case "payment.settle":
      return paymentSettle(gw, job, order, c as Extract<Candidate, { type: "common_third_party" }>, data);
    default:
      return { kind: "definite", reason: `unknown step ${job.step}` };
  }
}

const orderUrls = (o: OrderRecord): string[] => {
  const u = JSON.parse(o.urls_json) as { order?: unknown };
  return Array.isArray(u.order) ? (u.order as string[]) : [];
};
const key = (job: JobRow) => `${job.id}:${job.step}`;
const callPeer = (gw: Gateway, job: JobRow, ocid: number, method: "GET" | "POST", route: string, body?: unknown) =>
  gw.peers.call(ocid, method, route, body, { idempotencyKey: key(job), timeoutMs: gw.config.outboundTimeouts.settlementMs });

/** Checks a returned `{proof, signature}` against §12.5 for a settlement step of `order`. */
const verifiedProof = (gw: Gateway, raw: unknown, issuer: number, to: { ocid: number; reference: string }, order: OrderRecord) =>
  verifiedReturnedProof(gw, raw, { issuer, to, amount: order.amount, currency: order.currency });

async function partnerTransfer(gw: Gateway, job: JobRow, order: OrderRecord, c: { via: number }): Promise<StepResult> {
  const body = {
    from: { ocid: gw.config.ocid, reference: `user_${order.user_id}` },
    to: { ocid: order.merchant_ocid, reference: order.order_id },
    amount: order.amount,
    currency: order.currency,
    order: { id: order.order_id, urls: orderUrls(order) },
  };
  const out = classify(await callPeer(gw, job, c.via, "POST", "/transfer/create", body));
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, c.via, { ocid: order.merchant_ocid, reference: order.order_id }, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  return { kind: "paid", final: v.signed, destination: externalAccount(c.via), issuer: c.via };
}

async function paymentCreate(gw: Gateway, job: JobRow, order: OrderRecord, c: { via: number; provider: number }): Promise<StepResult> {
  const body = { to: order.merchant_ocid, amount: order.amount, currency: order.currency, order: { id: order.order_id, urls: orderUrls(order) } };
  const out = classify(await callPeer(gw, job, c.via, "POST", "/payment/create", body));
  if (out.kind !== "success") return out;
  const r = out.res.json as { txid?: unknown; amount?: unknown; currency?: unknown; settlement?: { accepts?: unknown } } | undefined;
  const txid = r?.txid;
  if (typeof txid !== "string" || txid.length < 1 || txid.length > 128) return { kind: "ambiguous", reason: "payment.create: no txid", anomaly: true };
  if (r!.currency !== order.currency || typeof r!.amount !== "string" || !amountsEqual(r!.amount, order.amount, order.currency, gw.currencies))
    return { kind: "ambiguous", reason: "payment.create: amount or currency mismatch", anomaly: true };
  const offered = Array.isArray(r!.settlement?.accepts) ? (r!.settlement!.accepts as unknown[]) : [c.provider];
  const ours = providersFor(gw.config, order.currency);
  const provider = offered.includes(c.provider) ? c.provider : (offered.find((p) => typeof p === "number" && ours.has(p)) as number | undefined);
  if (provider === undefined) return { kind: "definite", reason: "payment.create: no common provider" };
  // The gateway's payment reference is what the provider's proof will name: one reference, one job.
  const claim: StepClaim = { issuer: c.via, txid, document: JSON.stringify(r), signature: "", sigForm: "none", outcome: "payment_ref", onTaken: "definite" };
  return { kind: "next", step: "provider.transfer.create", data: { txid, provider }, claim };
}

async function providerTransfer(gw: Gateway, job: JobRow, order: OrderRecord, c: { via: number }, data: StepData): Promise<StepResult> {
  const provider = data.provider!;
  const body = {
    from: { ocid: gw.config.ocid, reference: `user_${order.user_id}` },
    to: { ocid: c.via, reference: data.txid! },
    amount: order.amount,
    currency: order.currency,
  };
  const out = classify(await callPeer(gw, job, provider, "POST", "/transfer/create", body));
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, provider, { ocid: c.via, reference: data.txid! }, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  const claim: StepClaim = {
    issuer: provider,
    txid: String(v.signed.proof.txid),
    document: JSON.stringify(v.signed.proof),
    signature: v.signed.signature,
    sigForm: v.form,
    outcome: "settlement",
    onTaken: "ambiguous",
  };
  return { kind: "next", step: "payment.settle", data: { ...data, providerProof: v.signed }, claim };
}

async function paymentSettle(gw: Gateway, job: JobRow, order: OrderRecord, c: { via: number }, data: StepData): Promise<StepResult> {
  const expectTo = { ocid: order.merchant_ocid, reference: order.order_id };
  const gwMeta = gw.directory.peek(c.via);
  // After an ambiguous settle, ask the gateway first (§12.8) rather than blindly re-sending.
  if (job.step_attempts > 0 && gwMeta?.capabilities.includes("verify.txid")) {
    const res = await callPeer(gw, job, c.via, "GET", `/verify/${encodeURIComponent(data.txid!)}`);
    const out = classify(res);
    if (out.kind === "success") {
      const body = out.res.json as { status?: unknown } | undefined;
      if (body?.status === "completed") {
        const v = await verifiedProof(gw, body, c.via, expectTo, order);
        if (v.ok) return { kind: "paid", final: v.signed, destination: externalAccount(data.provider!), issuer: c.via };
      } else if (body?.status === "failed" || body?.status === "expired") return { kind: "review", reason: `verify: ${body.status}` };
    } else if (out.kind === "definite" && out.status === 404) return { kind: "review", reason: "verify: TXID_NOT_FOUND" };
  }
  const body = { txid: data.txid, proof: data.providerProof!.proof, signature: data.providerProof!.signature };
  const out = classify(await callPeer(gw, job, c.via, "POST", "/payment/settle", body));
  if (out.kind === "definite") return { kind: "review", reason: `payment.settle refused after the provider transfer: ${out.reason}` };
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, c.via, expectTo, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  return { kind: "paid", final: v.signed, destination: externalAccount(data.provider!), issuer: c.via };
}

// ---------------------------------------------------------------- transitions (each one transaction)

const leased = "AND lease_owner = ?";

/**
 * After a success: the next step of the same candidate, in one transaction with the claim of the txid it rests
 * on. Null (nothing written) when that txid is already another job's or a credit's. Leaving a value-moving step
 * pins the job (§12.4).
 */
function advance(gw: Gateway, job: JobRow, owner: string, step: string, data: StepData, claim?: StepClaim): JobRow | null {
  const now = gw.clock();
  const pinned = job.pinned || VALUE_MOVING.has(job.step) ? 1 : 0;
  const moved = gw.store.tx(() => {
    if (claim && claimTxid(gw.db, { ...claim, jobId: job.id, now }) === "taken") return false;
    gw.db
      .query(`UPDATE jobs SET step = ?, step_data = ?, step_attempts = 0, attempts = attempts + 1, pinned = ?, updated_at = ? WHERE id = ? ${leased}`)
      .run(step, JSON.stringify(data), pinned, now, job.id, owner);
    return true;
  });
  return moved ? gw.store.jobs.byId(job.id)! : null;
}

/** A step's txid already belongs to another movement: recorded for the operator, the step does not succeed. */
function txidTaken(gw: Gateway, job: JobRow, order: OrderRecord, claim: StepClaim): StepResult {
  const reason = `${job.step}: ${claim.issuer}/${claim.txid} already used by another movement`;
  gw.store.tx(() => recordAnomaly(gw, "proof_reused", order.id, job.id, reason));
  gw.log.warn("peer reused a txid", { order: order.id, job: job.id, step: job.step, issuer: claim.issuer });
  return { kind: claim.onTaken, reason };
}

function nextCandidate(gw: Gateway, job: JobRow, owner: string, index: number, step: string, reason: string): JobRow {
  const now = gw.clock();
  gw.db
    .query(
      `UPDATE jobs SET path_index = ?, step = ?, step_data = '{}', step_attempts = 0, attempts = attempts + 1, last_error = ?, updated_at = ?
       WHERE id = ? ${leased}`,
    )
    .run(index, step, reason, now, job.id, owner);
  gw.log.info("settlement path abandoned", { job: job.id, reason });
  return gw.store.jobs.byId(job.id)!;
}

function retryLater(gw: Gateway, job: JobRow, order: OrderRecord, owner: string, out: { reason: string; retryAfter?: number; anomaly?: boolean }): void {
  const now = gw.clock();
  const pinned = job.pinned || VALUE_MOVING.has(job.step) ? 1 : 0;
  const inReview = now > job.deadline;
  const delay = inReview ? REVIEW_RETRY_SECONDS : Math.max(settlementRetryDelay(job.step_attempts + 1), out.retryAfter ?? 0);
  const nextAt = inReview ? now + delay : Math.min(now + delay, Math.max(job.deadline + 1, now + 1));
  gw.store.tx(() => {
    gw.db
      .query(
        `UPDATE jobs SET step_attempts = step_attempts + 1, attempts = attempts + 1, pinned = ?, next_attempt_at = ?, last_error = ?,
           lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? ${leased}`,
      )
      .run(pinned, nextAt, out.reason, now, job.id, owner);
    if (out.anomaly) recordAnomaly(gw, "settlement_response_invalid", order.id, job.id, `${job.step}: ${out.reason}`);
  });
}

function completePaid(gw: Gateway, job: JobRow, order: OrderRecord, owner: string, c: Candidate, r: Extract<StepResult, { kind: "paid" }>): boolean {
  let ok: boolean;
  try {
    ok = gw.store.tx(() => applyFinalProof(gw, job.id, order, c.type, r.final, r.issuer, r.destination, "deep"));
  } catch (e) {
    if (!isBalanceOverflow(e)) throw e;
    // Value moved at the peer but our books cannot record it (64-bit range): the operator reconciles, no retry storm.
    toReview(gw, job, order, owner, `final proof cannot be booked: ${r.destination} balance limit`, true);
    return false;
  }
  if (!ok) {
    retryLater(gw, job, order, owner, { reason: "final proof could not be applied", anomaly: false });
    return false;
  }
  afterPaid(gw, order, String(r.final.proof.txid));
  return true;
}

/**
 * Inside a transaction: the final proof is stored, the in-flight money moves to `destination`, the order becomes
 * `paid` and the job `done`. False (nothing written) when the order can no longer be paid or the proof was
 * already used for another job. Shared by the scheduler and by /transfer/webhook notifications.
 */
export function applyFinalProof(
  gw: Gateway,
  jobId: string,
  order: OrderRecord,
  type: string,
  final: Signed,
  issuer: number,
  destination: string,
  sigForm: string,
): boolean {
  const now = gw.clock();
  const txid = String(final.proof.txid);
  const seen = txidUse(gw.db, issuer, txid);
  if (seen && seen.job_id !== jobId) {
    recordAnomaly(gw, "proof_reused", order.id, jobId, `${issuer}/${txid} already used`);
    return false;
  }
  if (!gw.store.orders.move(order.id, settleMove(final.proof, final.signature, txid), now)) return false;
  claimTxid(gw.db, { issuer, txid, jobId, document: JSON.stringify(final.proof), signature: final.signature, sigForm, outcome: "settlement", now });
  gw.store.ledger.move({ from: IN_FLIGHT, to: destination, currency: order.currency, amount: order.amount_minor, reason: `settled_${type}`, orderId: order.id, ref: txid, now });
  emitOrderEvent(gw, "payment.paid", order, "paid", txid);
  gw.db.query("UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?").run(now, jobId);
  return true;
}

const settleMove = (proof: Record<string, unknown>, signature: string, txid: string): OrderMove => ({
  event: "settle",
  proofJson: JSON.stringify(proof),
  signature,
  txid,
});

export function afterPaid(gw: Gateway, order: OrderRecord, txid: string): void {
  gw.hub.send(order.user_id, paymentUpdateMessage({ session_id: order.session_id, status: "paid", final_txid: txid }));
}

/**
 * Direct (§12.6) and hosted checkout (§12.9): credit in our own books, issue our proof, queue its delivery. A
 * recipient account that cannot hold the amount (64-bit balance range) is a definite failure of this path: nothing
 * left our books, so the next path or a refund follows instead of a retry that could never succeed.
 */
function creditLocally(gw: Gateway, job: JobRow, order: OrderRecord, c: Candidate, owner: string): StepResult {
  const now = gw.clock();
  const recipient = c.type === "checkout" ? c.via : order.merchant_ocid;
  let issued: { txid: string } | null;
  try {
    issued = creditLocallyTx(gw, job, order, c, owner, recipient, now);
  } catch (e) {
    if (!isBalanceOverflow(e)) throw e;
    gw.store.tx(() => recordAnomaly(gw, "balance_limit", order.id, job.id, `${peerAccount(recipient)} cannot hold ${order.amount} ${order.currency}`));
    return { kind: "definite", reason: "recipient balance limit" };
  }
  if (!issued) return { kind: "ambiguous", reason: "state changed" };
  afterPaid(gw, order, issued.txid);
  gw.events.deliveryEnqueued();
  return { kind: "issued" };
}

function creditLocallyTx(gw: Gateway, job: JobRow, order: OrderRecord, c: Candidate, owner: string, recipient: number, now: number) {
  return gw.store.txUnless(StateChanged, () => {
    const proof = issueProof(
      gw.db,
      gw.key.secret,
      {
        issuer: gw.config.ocid,
        from: { ocid: gw.config.ocid, reference: order.user_id ? `user_${order.user_id}` : undefined },
        to: { ocid: recipient, reference: order.order_id },
        amount: order.amount,
        currency: order.currency,
        timestamp: now,
      },
      order.id,
      gw.store.dialects.signingFor(recipient),
    );
    if (!gw.store.orders.move(order.id, settleMove(proof.proof, proof.signature, proof.txid), now)) throw new StateChanged();
    gw.store.ledger.move({ from: IN_FLIGHT, to: peerAccount(recipient), currency: order.currency, amount: order.amount_minor, reason: `settled_${c.type}`, orderId: order.id, ref: proof.txid, now });
    emitOrderEvent(gw, "payment.paid", order, "paid", proof.txid);
    gw.store.deliveries.enqueue({ orderId: order.id, target: recipient, txid: proof.txid, body: proof.body, now });
    finishJobRow(gw, job, owner, "done", null);
    return proof;
  });
}

class StateChanged extends Error {}

function refund(gw: Gateway, job: JobRow, order: OrderRecord, owner: string, reason: string): void {
  const now = gw.clock();
  const done = gw.store.tx(() => {
    if (!gw.store.orders.move(order.id, { event: "fail" }, now)) {
      finishJobRow(gw, job, owner, "failed", `${reason} (order was ${order.status})`);
      return false;
    }
    gw.store.ledger.move({ from: IN_FLIGHT, to: userAccount(order.user_id!), currency: order.currency, amount: order.amount_minor, reason: "refund", orderId: order.id, now });
    emitOrderEvent(gw, "payment.failed", order, "failed", null);
    finishJobRow(gw, job, owner, "failed", reason);
    return true;
  });
  gw.log.warn("settlement failed; user refunded", { order: order.id, reason, refunded: done });
  if (done) gw.hub.send(order.user_id, paymentUpdateMessage({ session_id: order.session_id, status: "failed", final_txid: null }));
}

/** Value may have moved: never refund; the operator reconciles (§12.4). `final` stops the retries. */
function toReview(gw: Gateway, job: JobRow, order: OrderRecord, owner: string, reason: string, final = false): void {
  const now = gw.clock();
  const moved = gw.store.tx(() => {
    const changed = gw.store.orders.move(order.id, { event: "review" }, now);
    if (changed) recordAnomaly(gw, "unresolved_settlement", order.id, job.id, reason);
    if (changed) emitOrderEvent(gw, "order.in_review", order, "in_review", null);
    if (final) finishJobRow(gw, job, owner, "in_review", reason);
    return changed;
  });
  if (moved) {
    order.status = "in_review";
    gw.log.warn("settlement needs review", { order: order.id, reason });
    gw.hub.send(order.user_id, paymentUpdateMessage({ session_id: order.session_id, status: "in_review", final_txid: null }));
  }
}

function finishJobRow(gw: Gateway, job: JobRow, owner: string, state: string, error: string | null): void {
  gw.db
    .query(`UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? ${leased}`)
    .run(state, error, gw.clock(), job.id, owner);
}

function finishJob(gw: Gateway, job: JobRow, owner: string, state: string, error: string | null): void {
  gw.store.tx(() => finishJobRow(gw, job, owner, state, error));
}

function release(gw: Gateway, job: JobRow, owner: string): void {
  gw.db.query(`UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? ${leased}`).run(job.id, owner);
}

export function recordAnomaly(gw: Gateway, kind: string, orderId: number | null, jobId: string | null, detail: string): void {
  gw.db.query("INSERT INTO anomalies (kind, order_id, job_id, detail, created_at) VALUES (?, ?, ?, ?, ?)").run(kind, orderId, jobId, detail, gw.clock());
}
