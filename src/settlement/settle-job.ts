// §12.4–§12.9: one run of a settlement job. Each run performs at most the job's current step (plus the steps
// that follow at once after a success), records the outcome in SQLite, and leaves the job where a restart can
// pick it up. What an outcome means (advance, retry, next path, review, refund) and which steps pin the job are
// the pure rules of src/domain/settlement-job.ts; this file makes the calls and writes what they decide.
import type { Gateway } from "../gateway";
import type { OrderMove, OrderRecord } from "../store/orders";
import type { JobRow, JobState } from "../store/jobs";
import type { Tx } from "../store";
import type { RunLease } from "./run-lease";
import { IN_FLIGHT, isBalanceOverflow, peerAccount, userAccount } from "../store/ledger";
import { providersFor } from "./candidates";
import { classify, type Outcome } from "./classify";
import { issueProof } from "./proofs";
import { verifiedReturnedProof, type Signed } from "./returned-proof";
import { amountsEqual } from "../protocol/money";
import { paymentUpdateMessage } from "../notify/messages";
import { emitOrderEvent } from "../notify/operator-events";
import { claimTxid, txidUse, type TxidClaim } from "./txid-registry";
import { applyEffects, commit, only, push, runDelivery, WAKE_DELIVERIES, type Committed, type Effect } from "./effects";
import {
  atDeadline,
  decide,
  expectedProof,
  readStep,
  settlementDestination,
  STEP_RULES,
  storedStepData,
  type Candidate,
  type Decision,
  type JobFacts,
  type JobStep,
  type OrderParties,
  type ProofStep,
  type StepOf,
} from "../domain/settlement-job";

export { REVIEW_HORIZON_SECONDS, REVIEW_RETRY_SECONDS } from "../domain/settlement-job";
export type { Signed } from "./returned-proof";

/** A run performs its step and the ones that follow at once after a success; no path has more steps than this. */
const MAX_STEPS_PER_RUN = 6;
/** payment.create's reference is an opaque string of 1–128 characters (§12.8). */
const MAX_TXID_LENGTH = 128;
const HTTP_NOT_FOUND = 404;

/**
 * A txid a step's success depends on, claimed in the transaction that moves the job on. `onTaken`: what it means
 * when another job or a credit already holds it (payment.create moved nothing: definite; a provider transfer may
 * have moved value: ambiguous, the job stays pinned and ends in review).
 */
type StepClaim = Omit<TxidClaim, "jobId" | "now"> & { onTaken: "definite" | "ambiguous" };

type Paid = { kind: "paid"; final: Signed; issuer: number; step: JobStep };

/** What a step produced. `next` continues with another step of the same candidate. */
type StepResult =
  | { kind: "next"; step: JobStep; claim?: StepClaim }
  | Paid
  | { kind: "issued" }
  | Exclude<Outcome, { kind: "success" }>
  | { kind: "review"; reason: string };

export type JobRunResult = "paid" | "failed" | "in_review" | "retry" | "skipped";

const facts = (job: JobRow, paths: readonly Candidate[]): JobFacts => ({
  step: job.step,
  pinned: job.pinned !== 0,
  stepAttempts: job.stepAttempts,
  deadline: job.deadline,
  pathIndex: job.pathIndex,
  paths,
});

const parties = (o: OrderRecord): OrderParties => ({ merchantOcid: o.merchantOcid, orderId: o.orderId });

/** `claimed`: the job's order as read in the transaction that claimed the job (else it is read here). */
export async function runSettlementJob(
  gw: Gateway,
  job: JobRow,
  lease: RunLease,
  claimed?: OrderRecord | null,
): Promise<JobRunResult> {
  const order = claimed !== undefined ? claimed : await gw.store.read((tx) => tx.orders.byId(job.orderId));
  if (!order) {
    await finishJob(gw, job, lease, "failed", "order missing");
    return "failed";
  }
  const candidates = JSON.parse(job.candidatesJson) as Candidate[];
  const start = atDeadline(facts(job, candidates), order.status, gw.clock());
  if (start.action === "refund") {
    await refund(gw, job, order, lease, start.reason);
    return "failed";
  }
  if (start.review) await toReview(gw, job, order, lease, start.review);
  if (start.action === "stop") {
    await finishJob(gw, job, lease, "in_review", start.reason);
    return "in_review";
  }

  let current = job;
  for (let guard = 0; guard < MAX_STEPS_PER_RUN; guard++) {
    const candidate = candidates[current.pathIndex];
    if (!candidate) {
      await refund(gw, current, order, lease, "no settlement path left");
      return "failed";
    }
    await recordPath(gw, order, candidate, lease);
    const step = readStep(current.step, JSON.parse(current.stepData), candidate);
    let result: StepResult =
      "invalid" in step ? { kind: "definite", reason: step.invalid } : await runStep(gw, current, order, step, lease);
    if (result.kind === "next") {
      const advanced = await advance(gw, current, lease, candidates, result.step, result.claim);
      if ("row" in advanced) {
        current = advanced.row;
        continue;
      }
      result = await txidTaken(gw, current, order, advanced.taken, lease);
    }
    if (result.kind === "issued") return "paid";
    if (result.kind === "paid")
      return (await completePaid(gw, current, order, lease, candidates, result)) ? "paid" : "retry";
    const decision = decide(facts(current, candidates), result, gw.clock());
    switch (decision.action) {
      case "retry":
        await retryLater(gw, current, order, lease, decision);
        return "retry";
      case "review":
        await toReview(gw, current, order, lease, decision.reason, true);
        return "in_review";
      case "refund":
        await refund(gw, current, order, lease, decision.reason);
        return "failed";
      case "next_path":
        current = await nextCandidate(gw, current, lease, decision);
        continue;
      case "advance":
      case "complete":
        throw new Error(`settlement: ${decision.action} is no answer to a ${result.kind} outcome`);
    }
  }
  await release(gw, current, lease);
  return "retry";
}

/** The order shows the path being tried (§9.5 `settlement`). */
async function recordPath(
  gw: Pick<Gateway, "clock" | "store">,
  order: OrderRecord,
  c: Candidate,
  lease: RunLease,
): Promise<void> {
  const via = "via" in c ? c.via : null;
  if (order.settlementType === c.type && order.settlementVia === via) return;
  const now = gw.clock();
  await gw.store.transaction(async (tx) => {
    await tx.orders.setSettlement(order.id, c.type, via, now);
    await lease.hold(tx, now);
  });
}

// ---------------------------------------------------------------- steps

/** A run that lost its lease makes no further call (every call of a step may move value at a peer). */
function runStep(gw: Gateway, job: JobRow, order: OrderRecord, step: JobStep, lease: RunLease): Promise<StepResult> {
  lease.ensure();
  switch (step.name) {
    case "direct.credit":
    case "checkout.credit":
      return creditLocally(gw, job, order, step, lease);
    case "transfer.create":
      return partnerTransfer(gw, job, order, step);
    case "payment.create":
      return paymentCreate(gw, job, order, step);
    case "provider.transfer.create":
      return providerTransfer(gw, job, order, step);
    case "payment.settle":
      return paymentSettle(gw, job, order, step);
  }
}

const orderUrls = (o: OrderRecord): string[] => {
  const u = JSON.parse(o.urlsJson) as { order?: unknown };
  return Array.isArray(u.order) ? (u.order as string[]) : [];
};
/** §12.4: one stable Idempotency-Key per step of a job. */
const key = (job: JobRow) => `${job.id}:${job.step}`;
const callPeer = (
  gw: Pick<Gateway, "config" | "peers">,
  job: JobRow,
  ocid: number,
  method: "GET" | "POST",
  route: string,
  body?: unknown,
) =>
  gw.peers.call(ocid, method, route, body, {
    idempotencyKey: key(job),
    timeoutMs: gw.config.outboundTimeouts.settlementMs,
  });

/** Checks a returned `{proof, signature}` against §12.5's expectation for `step` of `order`. */
const verifiedProof = (gw: Gateway, raw: unknown, step: ProofStep, order: OrderRecord) =>
  verifiedReturnedProof(gw, raw, {
    ...expectedProof(step, parties(order)),
    amount: order.amount,
    currency: order.currency,
  });

const fromUser = (gw: Pick<Gateway, "config">, order: OrderRecord) => ({
  ocid: gw.config.ocid,
  reference: `user_${order.userId}`,
});

async function partnerTransfer(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  step: StepOf<"transfer.create">,
): Promise<StepResult> {
  const body = {
    from: fromUser(gw, order),
    to: { ocid: order.merchantOcid, reference: order.orderId },
    amount: order.amount,
    currency: order.currency,
    order: { id: order.orderId, urls: orderUrls(order) },
  };
  const out = classify(await callPeer(gw, job, step.via, "POST", "/transfer/create", body));
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, step, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  return { kind: "paid", final: v.signed, issuer: step.via, step };
}

type PaymentReply = { txid?: unknown; amount?: unknown; currency?: unknown; settlement?: { accepts?: unknown } };

async function paymentCreate(
  gw: Pick<Gateway, "config" | "currencies" | "peers">,
  job: JobRow,
  order: OrderRecord,
  step: StepOf<"payment.create">,
): Promise<StepResult> {
  const body = {
    to: order.merchantOcid,
    amount: order.amount,
    currency: order.currency,
    order: { id: order.orderId, urls: orderUrls(order) },
  };
  const out = classify(await callPeer(gw, job, step.via, "POST", "/payment/create", body));
  if (out.kind !== "success") return out;
  const r = (out.res.json ?? {}) as PaymentReply;
  const txid = r.txid;
  if (typeof txid !== "string" || txid.length < 1 || txid.length > MAX_TXID_LENGTH)
    return { kind: "ambiguous", reason: "payment.create: no txid", anomaly: true };
  const sameAmount =
    typeof r.amount === "string" && amountsEqual(r.amount, order.amount, order.currency, gw.currencies);
  if (r.currency !== order.currency || !sameAmount)
    return { kind: "ambiguous", reason: "payment.create: amount or currency mismatch", anomaly: true };
  const accepts = r.settlement?.accepts;
  const offered: unknown[] = Array.isArray(accepts) ? accepts : [step.provider];
  const ours = providersFor(gw.config, order.currency);
  const provider = offered.includes(step.provider)
    ? step.provider
    : (offered.find((p) => typeof p === "number" && ours.has(p)) as number | undefined);
  if (provider === undefined) return { kind: "definite", reason: "payment.create: no common provider" };
  // The gateway's payment reference is what the provider's proof will name: one reference, one job.
  const claim: StepClaim = {
    issuer: step.via,
    txid,
    document: JSON.stringify(r),
    signature: "",
    sigForm: "none",
    outcome: "payment_ref",
    onTaken: "definite",
  };
  return { kind: "next", step: { name: "provider.transfer.create", via: step.via, provider, txid }, claim };
}

async function providerTransfer(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  step: StepOf<"provider.transfer.create">,
): Promise<StepResult> {
  const body = {
    from: fromUser(gw, order),
    to: { ocid: step.via, reference: step.txid },
    amount: order.amount,
    currency: order.currency,
  };
  const out = classify(await callPeer(gw, job, step.provider, "POST", "/transfer/create", body));
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, step, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  const claim: StepClaim = {
    issuer: step.provider,
    txid: String(v.signed.proof.txid),
    document: JSON.stringify(v.signed.proof),
    signature: v.signed.signature,
    sigForm: v.form,
    outcome: "settlement",
    onTaken: "ambiguous",
  };
  return { kind: "next", step: { ...step, name: "payment.settle", providerProof: v.signed }, claim };
}

async function paymentSettle(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  step: StepOf<"payment.settle">,
): Promise<StepResult> {
  const gwMeta = gw.directory.peek(step.via);
  // After an ambiguous settle, ask the gateway first (§12.8) rather than blindly re-sending.
  if (job.stepAttempts > 0 && gwMeta?.capabilities.includes("verify.txid")) {
    const out = classify(await callPeer(gw, job, step.via, "GET", `/verify/${encodeURIComponent(step.txid)}`));
    if (out.kind === "success") {
      const body = out.res.json as { status?: unknown } | undefined;
      if (body?.status === "completed") {
        const v = await verifiedProof(gw, body, step, order);
        if (v.ok) return { kind: "paid", final: v.signed, issuer: step.via, step };
      } else if (body?.status === "failed" || body?.status === "expired")
        return { kind: "review", reason: `verify: ${body.status}` };
    } else if (out.kind === "definite" && out.status === HTTP_NOT_FOUND)
      return { kind: "review", reason: "verify: TXID_NOT_FOUND" };
  }
  const body = { txid: step.txid, proof: step.providerProof.proof, signature: step.providerProof.signature };
  const out = classify(await callPeer(gw, job, step.via, "POST", "/payment/settle", body));
  if (out.kind === "definite")
    return { kind: "review", reason: `payment.settle refused after the provider transfer: ${out.reason}` };
  if (out.kind !== "success") return out;
  const v = await verifiedProof(gw, out.res.json, step, order);
  if (!v.ok) return { kind: "ambiguous", reason: v.reason, anomaly: true };
  return { kind: "paid", final: v.signed, issuer: step.via, step };
}

// ---------------------------------------------------------------- transitions (each one transaction)

/**
 * After a success: the next step of the same candidate, in one transaction with the claim of the txid it rests
 * on. `taken` (nothing written) when that txid is already another job's or a credit's. Leaving a value-moving
 * step pins the job (§12.4, decided by `decide`).
 */
async function advance(
  gw: Pick<Gateway, "clock" | "store">,
  job: JobRow,
  lease: RunLease,
  paths: readonly Candidate[],
  next: JobStep,
  claim?: StepClaim,
): Promise<{ row: JobRow } | { taken: StepClaim }> {
  const now = gw.clock();
  const d = decide(facts(job, paths), { kind: "next", step: next }, now);
  if (d.action !== "advance") throw new Error(`settlement: a success decided ${d.action}`);
  // The job row as advanced is read back in the same transaction.
  const row = await gw.store.transaction(async (tx) => {
    if (claim && (await claimTxid(tx.proofs, { ...claim, jobId: job.id, now })) === "taken") return null;
    const stepData = storedStepData(d.step);
    await lease.fenced(tx.jobs.advance(job.id, lease.owner, { step: d.step.name, stepData, pinned: d.pinned, now }));
    return tx.jobs.byId(job.id);
  });
  if (row === null && claim) return { taken: claim };
  if (!row) throw new Error(`settlement: job ${job.id} vanished`);
  return { row };
}

/** A step's txid already belongs to another movement: recorded for the operator, the step does not succeed. */
async function txidTaken(
  gw: Pick<Gateway, "clock" | "log" | "store">,
  job: JobRow,
  order: OrderRecord,
  claim: StepClaim,
  lease: RunLease,
): Promise<StepResult> {
  const reason = `${job.step}: ${claim.issuer}/${claim.txid} already used by another movement`;
  await gw.store.transaction(async (tx) => {
    await recordAnomaly(gw, tx, "proof_reused", order.id, job.id, reason);
    await lease.hold(tx, gw.clock());
  });
  gw.log.warn("peer reused a txid", { order: order.id, job: job.id, step: job.step, issuer: claim.issuer });
  return { kind: claim.onTaken, reason };
}

async function nextCandidate(
  gw: Pick<Gateway, "clock" | "log" | "store">,
  job: JobRow,
  lease: RunLease,
  d: Extract<Decision, { action: "next_path" }>,
): Promise<JobRow> {
  const row = await gw.store.transaction(async (tx) => {
    const next = { index: d.index, step: d.step, reason: d.reason, now: gw.clock() };
    await lease.fenced(tx.jobs.nextPath(job.id, lease.owner, next));
    return tx.jobs.byId(job.id);
  });
  gw.log.info("settlement path abandoned", { job: job.id, reason: d.reason });
  if (!row) throw new Error(`settlement: job ${job.id} vanished`);
  return row;
}

async function retryLater(
  gw: Pick<Gateway, "clock" | "store">,
  job: JobRow,
  order: OrderRecord,
  lease: RunLease,
  d: Extract<Decision, { action: "retry" }>,
): Promise<void> {
  const now = gw.clock();
  await gw.store.transaction(async (tx) => {
    await lease.fenced(tx.jobs.retryLater(job.id, lease.owner, { pinned: d.pinned, at: d.at, reason: d.reason, now }));
    if (d.anomaly)
      await recordAnomaly(gw, tx, "settlement_response_invalid", order.id, job.id, `${job.step}: ${d.reason}`);
  });
}

async function completePaid(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  lease: RunLease,
  paths: readonly Candidate[],
  r: Paid,
): Promise<boolean> {
  const txid = String(r.final.proof.txid);
  let ok: boolean;
  try {
    ok = await commit(gw, async (tx) => {
      const applied = await applyFinalProof(gw, tx, job.id, order, r.step, r.final, r.issuer, "deep", lease);
      if (!applied) await lease.hold(tx, gw.clock());
      return { value: applied, effects: applied ? [paidPush(order, txid)] : [] };
    });
  } catch (e) {
    if (!isBalanceOverflow(e)) throw e;
    // Value moved at the peer but our books cannot record it (64-bit range): the operator reconciles, no retry storm.
    const destination = settlementDestination(r.step, parties(order));
    await toReview(gw, job, order, lease, `final proof cannot be booked: ${destination} balance limit`, true);
    return false;
  }
  if (!ok) {
    const d = decide(facts(job, paths), { kind: "ambiguous", reason: "final proof could not be applied" }, gw.clock());
    if (d.action === "retry") await retryLater(gw, job, order, lease, d);
    return false;
  }
  return true;
}

const settleMove = (proof: Record<string, unknown>, signature: string, txid: string): OrderMove => ({
  event: "settle",
  proofJson: JSON.stringify(proof),
  signature,
  txid,
});

/**
 * Inside a transaction: the final proof is stored, the in-flight money moves to the step's destination (§12.1),
 * the order becomes `paid` and the job `done`. False (nothing written) when the order can no longer be paid or
 * the proof was already used for another job. Shared by the scheduler, /transfer/webhook notifications and the
 * operator's `resolve paid`; the scheduler's run passes its `lease`, checked last before the job is marked done (the
 * lock order of the other callers: the order first, then the job).
 */
export async function applyFinalProof(
  gw: Pick<Gateway, "clock" | "events">,
  tx: Tx,
  jobId: string,
  order: OrderRecord,
  step: JobStep,
  final: Signed,
  issuer: number,
  sigForm: string,
  lease?: RunLease,
): Promise<boolean> {
  const now = gw.clock();
  const txid = String(final.proof.txid);
  const seen = await txidUse(tx.proofs, issuer, txid);
  if (seen && seen.jobId !== jobId) {
    await recordAnomaly(gw, tx, "proof_reused", order.id, jobId, `${issuer}/${txid} already used`);
    return false;
  }
  if (!(await tx.orders.move(order.id, settleMove(final.proof, final.signature, txid), now))) return false;
  const document = JSON.stringify(final.proof);
  const { signature } = final;
  const claim = { issuer, txid, jobId, document, signature, sigForm, outcome: "settlement", now };
  // Taken between the check above and here only by a concurrent writer (not SQLite's single one): nothing of this
  // transaction may stand, the order must not be paid twice.
  if ((await claimTxid(tx.proofs, claim)) === "taken") throw new Error(`${issuer}/${txid} claimed concurrently`);
  await settleInFlight(gw, tx, order, step, txid, now);
  await lease?.hold(tx, now);
  await tx.jobs.markDone(jobId, now);
  return true;
}

/**
 * §12.1: the order's amount leaves settlement_in_flight for where this step settled it; operators hear payment.paid.
 */
async function settleInFlight(
  gw: Pick<Gateway, "clock" | "events">,
  tx: Tx,
  order: OrderRecord,
  step: JobStep,
  txid: string,
  now: number,
): Promise<void> {
  await tx.ledger.move({
    from: IN_FLIGHT,
    to: settlementDestination(step, parties(order)),
    currency: order.currency,
    amount: order.amountMinor,
    reason: `settled_${STEP_RULES[step.name].strategy}`,
    orderId: order.id,
    ref: txid,
    now,
  });
  await emitOrderEvent(gw, tx, "payment.paid", order, "paid", txid);
}

/** §12.1: a failed or operator-refunded order's amount goes back from settlement_in_flight to its user. */
export async function refundInFlight(
  gw: Pick<Gateway, "clock" | "events">,
  tx: Tx,
  order: OrderRecord,
  now: number,
): Promise<void> {
  await tx.ledger.move({
    from: IN_FLIGHT,
    to: userAccount(order.userId!),
    currency: order.currency,
    amount: order.amountMinor,
    reason: "refund",
    orderId: order.id,
    now,
  });
  await emitOrderEvent(gw, tx, "payment.failed", order, "failed", null);
}

/** §12.4: after the commit that paid it, the user sees `payment_update {status: "paid", txid}`. */
export const paidPush = (order: OrderRecord, txid: string): Effect =>
  push(order.userId, paymentUpdateMessage({ sessionId: order.sessionId, status: "paid", finalTxid: txid }));

const statusPush = (order: OrderRecord, status: "failed" | "in_review"): Effect =>
  push(order.userId, paymentUpdateMessage({ sessionId: order.sessionId, status, finalTxid: null }));

type LocalStep = StepOf<"direct.credit" | "checkout.credit">;

/**
 * Direct (§12.6) and hosted checkout (§12.9): credit in our own books, issue our proof, queue its delivery. A
 * recipient account that cannot hold the amount (64-bit balance range) is a definite failure of this path: nothing
 * left our books, so the next path or a refund follows instead of a retry that could never succeed.
 */
async function creditLocally(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  step: LocalStep,
  lease: RunLease,
): Promise<StepResult> {
  const now = gw.clock();
  const recipient = step.name === "checkout.credit" ? step.via : order.merchantOcid;
  let issued: Committed<{ txid: string }> | null;
  try {
    issued = await creditLocallyTx(gw, job, order, step, lease, recipient, now);
  } catch (e) {
    if (!isBalanceOverflow(e)) throw e;
    const detail = `${peerAccount(recipient)} cannot hold ${order.amount} ${order.currency}`;
    await gw.store.transaction(async (tx) => {
      await recordAnomaly(gw, tx, "balance_limit", order.id, job.id, detail);
      await lease.hold(tx, now);
    });
    return { kind: "definite", reason: "recipient balance limit" };
  }
  if (!issued) return { kind: "ambiguous", reason: "state changed" };
  applyEffects(gw, issued.effects);
  return { kind: "issued" };
}

/** Null (the transaction rolled back) when the order could no longer be paid: a lost race, not a fault. */
async function creditLocallyTx(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  step: LocalStep,
  lease: RunLease,
  recipient: number,
  now: number,
): Promise<Committed<{ txid: string }> | null> {
  try {
    return await gw.store.transaction((tx) => creditLocallyIn(gw, tx, job, order, step, lease, recipient, now));
  } catch (e) {
    if (e instanceof StateChanged) return null;
    throw e;
  }
}

async function creditLocallyIn(
  gw: Gateway,
  tx: Tx,
  job: JobRow,
  order: OrderRecord,
  step: LocalStep,
  lease: RunLease,
  recipient: number,
  now: number,
): Promise<Committed<{ txid: string }>> {
  const proof = await issueProof(
    tx.proofs,
    gw.key.secret,
    {
      issuer: gw.config.ocid,
      from: { ocid: gw.config.ocid, reference: order.userId ? `user_${order.userId}` : undefined },
      to: { ocid: recipient, reference: order.orderId },
      amount: order.amount,
      currency: order.currency,
      timestamp: now,
    },
    order.id,
    await tx.dialects.signingFor(recipient),
  );
  if (!(await tx.orders.move(order.id, settleMove(proof.proof, proof.signature, proof.txid), now)))
    throw new StateChanged();
  await settleInFlight(gw, tx, order, step, proof.txid, now);
  const seconds = lease.keepDeliverySeconds;
  const held = seconds === null ? undefined : { owner: lease.owner, seconds };
  const delivery = { orderId: order.id, target: recipient, txid: proof.txid, body: proof.body, now, lease: held };
  const id = await tx.deliveries.enqueue(delivery);
  await lease.fenced(tx.jobs.finish(job.id, lease.owner, "done", null, now));
  const kept = held ? await tx.deliveries.byId(id) : null;
  return { value: proof, effects: [paidPush(order, proof.txid), kept ? runDelivery(kept) : WAKE_DELIVERIES] };
}

class StateChanged extends Error {}

async function refund(gw: Gateway, job: JobRow, order: OrderRecord, lease: RunLease, reason: string): Promise<void> {
  const now = gw.clock();
  const done = await commit(gw, async (tx) => {
    if (!(await tx.orders.move(order.id, { event: "fail" }, now))) {
      await lease.fenced(tx.jobs.finish(job.id, lease.owner, "failed", `${reason} (order was ${order.status})`, now));
      return only(false);
    }
    await refundInFlight(gw, tx, order, now);
    await lease.fenced(tx.jobs.finish(job.id, lease.owner, "failed", reason, now));
    return { value: true, effects: [statusPush(order, "failed")] };
  });
  gw.log.warn("settlement failed; user refunded", { order: order.id, reason, refunded: done });
}

/** Value may have moved: never refund; the operator reconciles (§12.4). `final` stops the retries. */
async function toReview(
  gw: Gateway,
  job: JobRow,
  order: OrderRecord,
  lease: RunLease,
  reason: string,
  final = false,
): Promise<void> {
  const now = gw.clock();
  const moved = await commit(gw, async (tx) => {
    const changed = await tx.orders.move(order.id, { event: "review" }, now);
    if (changed) {
      await recordAnomaly(gw, tx, "unresolved_settlement", order.id, job.id, reason);
      await emitOrderEvent(gw, tx, "order.in_review", order, "in_review", null);
    }
    if (final) await lease.fenced(tx.jobs.finish(job.id, lease.owner, "in_review", reason, now));
    else await lease.hold(tx, now);
    return { value: changed, effects: changed ? [statusPush(order, "in_review")] : [] };
  });
  if (moved) {
    order.status = "in_review";
    gw.log.warn("settlement needs review", { order: order.id, reason });
  }
}

async function finishJob(
  gw: Pick<Gateway, "clock" | "store">,
  job: JobRow,
  lease: RunLease,
  state: JobState,
  error: string | null,
): Promise<void> {
  await gw.store.transaction((tx) => lease.fenced(tx.jobs.finish(job.id, lease.owner, state, error, gw.clock())));
}

async function release(gw: Pick<Gateway, "store">, job: JobRow, lease: RunLease): Promise<void> {
  await gw.store.transaction((tx) => tx.jobs.release(job.id, lease.owner));
}

/** Inside the open transaction `tx` of what the anomaly is about. */
export async function recordAnomaly(
  gw: Pick<Gateway, "clock">,
  tx: Pick<Tx, "anomalies">,
  kind: string,
  orderId: number | null,
  jobId: string | null,
  detail: string,
): Promise<void> {
  await tx.anomalies.record(kind, orderId, jobId, detail, gw.clock());
}
