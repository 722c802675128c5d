// §9.8 POST /transfer/webhook: a peer tells us about a completed transfer that involves us. Either a credit to
// one of our users, or the result of one of our own settlement steps. Idempotent on (issuer, txid).
import type { Gateway } from "../gateway";
import type { Caller } from "../http/auth";
import { ProtocolError } from "../protocol/errors";
import { checkProofStructure } from "../protocol/proof-check";
import { verifyObjectSignature, type SigForm } from "../protocol/signed-objects";
import { amountsEqual, parseAmount } from "../protocol/money";
import type { Proof } from "../protocol/schemas";
import { externalAccount, isBalanceOverflow, userAccount } from "../store/ledger";
import type { JobRow } from "../store/jobs";
import {
  decide,
  expectedProof,
  readStep,
  settlementDestination,
  storedStepData,
  type Candidate,
  type JobFacts,
  type JobStep,
} from "../domain/settlement-job";
import { applyFinalProof, paidPush, recordAnomaly } from "../settlement/settle-job";
import { commit, only, push, WAKE_SETTLEMENT, type Committed } from "../settlement/effects";
import { claimTxid, txidUse } from "../settlement/txid-registry";
import { enforceUserMovement } from "./user-limits";
import { applyRefundProof } from "./refunds";
import { inboundCreditMessage } from "../notify/p2p-messages";
import { topupCredit } from "./topup";
import { creditKindOf } from "../domain/credit-kind";
import { emitEvent } from "../notify/operator-events";
import type { Tx } from "../store";
import type { TxidUse } from "../store/proofs";

import { CreditRefused, type WebhookReply } from "./credit-refused";

type Reply = WebhookReply;

/** A proof may be stamped at most this far ahead of our clock (§13.3). */
const MAX_FUTURE_SECONDS = 300;

type WebhookBody = { proof: Record<string, unknown>; signature: string };

export async function transferWebhook(gw: Gateway, caller: Caller, body: WebhookBody): Promise<Reply> {
  const structure = checkProofStructure(body.proof);
  if (!structure.ok) {
    const fields = structure.fields.map((f) => `proof.${f}`);
    throw new ProtocolError("INVALID_PROOF", `Proof does not match the §13.1 structure: ${fields.join(", ")}`, {
      reason: "structure",
      fields,
    });
  }
  const proof = structure.proof;
  if (proof.issuer !== caller.ocid)
    throw new ProtocolError("INVALID_PROOF", "Issuers deliver their own proofs", { reason: "issuer_mismatch" });
  const { publicKey } = caller.metadata;
  const form = verifyObjectSignature(proof, body.signature, publicKey, gw.config.acceptReplacerCanonical);
  if (!form) {
    const how = "sign SHA-256 of the canonical JSON of `proof` with the issuer's key";
    const message = `Proof signature does not verify: ${how}`;
    throw new ProtocolError("PROOF_SIGNATURE_INVALID", message, { reason: "signature" });
  }
  const now = gw.clock();
  if (proof.timestamp > now + MAX_FUTURE_SECONDS) {
    const message = `proof.timestamp ${proof.timestamp} is more than ${MAX_FUTURE_SECONDS} s ahead of our time ${now}`;
    throw new ProtocolError("INVALID_PROOF", message, {
      reason: "future_timestamp",
      timestamp: proof.timestamp,
      serverTime: now,
    });
  }

  const { stored, toUs } = await gw.store.read(async (tx) => {
    const stored = await txidUse(tx.proofs, proof.issuer, proof.txid);
    if (stored?.replyJson) return { stored, toUs: false };
    // Issue 17: a proof addressed to one of our users' own OCIDs is a credit to us as well.
    return { stored, toUs: proof.to.ocid === gw.config.ocid || (await tx.users.byOcid(proof.to.ocid)) !== null };
  });
  if (stored?.replyJson) return JSON.parse(stored.replyJson) as Reply;

  if (toUs && !gw.config.acceptIssuers.includes(proof.issuer)) {
    const accepted = gw.config.acceptIssuers;
    const list = accepted.join(", ") || "none";
    const message = `Issuer ${proof.issuer} is not accepted for credits; accepted issuers: ${list}`;
    throw new ProtocolError("ISSUER_NOT_ACCEPTED", message, { reason: "issuer", issuer: proof.issuer, accepted });
  }

  const received = { issuer: proof.issuer, txid: proof.txid, document: JSON.stringify(body.proof) };
  const row = { ...received, signature: body.signature, sigForm: form, now };
  /** A row a settlement job owns keeps no stored reply: its replays are judged again (and answer the same). */
  const recordReply = (tx: Tx, r: Reply) =>
    tx.proofs.recordWebhookReply({ ...row, outcome: r.status, replyJson: JSON.stringify(r) });
  try {
    return await commit(gw, async (tx): Promise<Committed<Reply>> => {
      // A credit claims (issuer, txid) first: of two concurrent deliveries of one proof, one credits, the other
      // finds the row and answers from it.
      const claimed =
        toUs && (await tx.proofs.claimReceived({ ...row, outcome: "pending", replyJson: null, jobId: null }));
      const again = claimed ? null : await txidUse(tx.proofs, proof.issuer, proof.txid);
      if (again?.replyJson) return only(JSON.parse(again.replyJson) as Reply);
      let outcome: Committed<Reply>;
      // A txid a settlement job already used (a final or intermediate proof, a payment reference) is never also a
      // credit: one (issuer, txid), one movement.
      if (toUs && again) {
        const detail = `${proof.issuer}/${proof.txid} posted as a credit after settlement used it`;
        await recordAnomaly(gw, tx, "proof_reused", null, again.jobId, detail);
        outcome = only({ status: "rejected", txid: proof.txid, message: "txid already used for another transfer" });
      } else if (toUs) {
        const refund = await applyRefundProof(gw, tx, proof, body.signature, now);
        outcome = refund ? only(refund) : creditOutcome(proof, await applyCredit(gw, tx, proof, now), now);
      } else outcome = await applyNotification(gw, tx, proof, body.signature, form, again);
      await recordReply(tx, outcome.value);
      return outcome;
    });
  } catch (e) {
    if (!(e instanceof CreditRefused)) throw e;
    const refused = e;
    return commit(gw, async (tx): Promise<Committed<Reply>> => {
      const again = await txidUse(tx.proofs, proof.issuer, proof.txid);
      if (again?.replyJson) return only(JSON.parse(again.replyJson) as Reply);
      const a = refused.anomaly;
      if (a) await recordAnomaly(gw, tx, a.kind, a.orderId, a.jobId, a.detail);
      await recordReply(tx, refused.reply);
      return only(refused.reply);
    });
  }
}

/** A credit's reply, and after the commit the credited user hears of it live. */
function creditOutcome(proof: Proof, c: { reply: Reply; credited: Credited | null }, now: number): Committed<Reply> {
  if (!c.credited) return only(c.reply);
  const message = inboundCreditMessage(proof as unknown as Record<string, unknown>, c.credited.kind, now);
  const about = { credit: { issuer: proof.issuer, txid: proof.txid } }; // what another node re-reads
  return { value: c.reply, effects: [push(c.credited.userId, message, about)] };
}

type Credited = { userId: string; kind: "credit" | "topup" };

/** Which of our users a credit to us is for: the holder of `to.ocid`, or `user_<id>` in `to.reference`. */
async function creditedUser(gw: Pick<Gateway, "config">, tx: Tx, proof: Proof) {
  if (proof.to.ocid !== gw.config.ocid) return tx.users.byOcid(proof.to.ocid);
  const m = /^user_([a-z0-9]{1,32})$/.exec(proof.to.reference ?? "");
  return m ? tx.users.byId(m[1]!) : null;
}

async function applyCredit(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "events" | "store" | "tiers">,
  tx: Tx,
  proof: Proof,
  now: number,
): Promise<{ reply: Reply; credited: Credited | null }> {
  const none = (reply: Reply) => ({ reply, credited: null });
  const amount = parseAmount(proof.amount, proof.currency, gw.currencies, gw.enabledCurrencies);
  if (!amount.ok) {
    const message = amount.code === "INVALID_AMOUNT" ? "invalid amount" : "currency not supported";
    return none({ status: "rejected", txid: proof.txid, message });
  }
  if (creditKindOf(proof.to, gw.config.ocid) === "topup") return topupCredit(gw, tx, proof, amount.minor, now);
  const user = await creditedUser(gw, tx, proof);
  if (!user) {
    const detail = `${proof.issuer}/${proof.txid}: ${proof.to.reference ?? "(none)"}`;
    await recordAnomaly(gw, tx, "unknown_reference", null, null, detail);
    return none({ status: "rejected", txid: proof.txid, message: "unknown reference" });
  }
  try {
    // Checked before anything is written, so a refusal is answered (and listed) within this transaction.
    await enforceUserMovement(gw, tx, user.id, "credit", proof.currency, amount.minor);
  } catch (e) {
    // Issue 16: a frozen recipient or a limit is a definite answer to the sender, not a fault to retry.
    if (e instanceof ProtocolError && (e.code === "ACCOUNT_FROZEN" || e.code === "LIMIT_EXCEEDED")) {
      await recordAnomaly(gw, tx, "credit_refused", null, null, `${proof.issuer}/${proof.txid}: ${e.message}`);
      return none({ status: "rejected", txid: proof.txid, message: e.message });
    }
    throw e;
  }
  try {
    await tx.ledger.move({
      from: externalAccount(proof.issuer),
      to: userAccount(user.id),
      currency: proof.currency,
      amount: amount.minor,
      reason: "webhook_credit",
      ref: `${proof.issuer}|${proof.txid}`,
      now,
    });
  } catch (e) {
    // A credit the ledger cannot hold leaves nothing behind and is replied to.
    if (!isBalanceOverflow(e)) throw e;
    throw new CreditRefused(
      { status: "rejected", txid: proof.txid, message: "amount exceeds the balance limit" },
      null,
    );
  }
  await emitEvent(gw, tx, "credit.received", {
    userId: user.id,
    currency: proof.currency,
    amount: proof.amount,
    source: "webhook",
    issuer: proof.issuer,
    txid: proof.txid,
  });
  return { reply: { status: "accepted", txid: proof.txid }, credited: { userId: user.id, kind: "credit" } };
}

/**
 * A proof for one of our own settlement steps (§9.8): the job whose current step waits for exactly this issuer,
 * recipient and amount (§12.5, the same expectation the scheduler checks) takes it. The provider's proof moves a
 * third-party job on to payment.settle; a final proof pays the order.
 */
async function applyNotification(
  gw: Gateway,
  tx: Tx,
  proof: Proof,
  signature: string,
  form: SigForm,
  already: TxidUse | null,
): Promise<Committed<Reply>> {
  const accepted: Reply = { status: "accepted", txid: proof.txid };
  // Same txid as a step already recorded (§9.8): accepted, and nothing moves again.
  if (already?.jobId) return only(accepted);
  for (const job of await tx.jobs.waitingForProof(proof.currency)) {
    const order = await tx.orders.byId(job.oid);
    const c = (JSON.parse(job.candidatesJson) as Candidate[])[job.pathIndex];
    if (!order || !c) continue;
    const step = readStep(job.step, JSON.parse(job.stepData), c);
    if ("invalid" in step) continue;
    const parties = { merchantOcid: order.merchantOcid, orderId: order.orderId };
    const want = expectedProof(step, parties);
    if (!want || want.issuer !== proof.issuer || want.to.ocid !== proof.to.ocid) continue;
    if (want.to.reference !== proof.to.reference) continue;
    if (!amountsEqual(proof.amount, order.amount, order.currency, gw.currencies)) continue;
    const signed = { proof: proof as unknown as Record<string, unknown>, signature };
    if (step.name === "provider.transfer.create") {
      const now = gw.clock();
      const document = JSON.stringify(proof);
      const claim = { issuer: proof.issuer, txid: proof.txid, jobId: job.id, document, signature, sigForm: form };
      if ((await claimTxid(tx.proofs, { ...claim, outcome: "settlement", now })) === "taken") continue;
      const settle: JobStep = { ...step, name: "payment.settle", providerProof: signed };
      const next = decide(jobFacts(job), { kind: "next", step: settle }, now);
      if (next.action !== "advance") continue;
      const stepData = storedStepData(next.step);
      await tx.jobs.advanceByProof(job.id, step.name, { step: next.step.name, stepData, pinned: next.pinned, now });
      // After the commit the scheduler runs the payment.settle this proof unblocked.
      return { value: accepted, effects: [WAKE_SETTLEMENT] };
    }
    try {
      if (await applyFinalProof(gw, tx, job.id, order, step, signed, proof.issuer, form))
        return { value: accepted, effects: [paidPush(order, proof.txid)] };
    } catch (e) {
      if (!isBalanceOverflow(e)) throw e;
      // A proof our books cannot hold leaves nothing behind (the transaction rolls back); the job's own run
      // reviews it.
      const destination = settlementDestination(step, parties);
      const detail = `${destination} cannot hold ${order.amount} ${order.currency}`;
      const reply: Reply = { status: "rejected", txid: proof.txid, message: "amount exceeds the balance limit" };
      throw new CreditRefused(reply, { kind: "balance_limit", orderId: order.id, jobId: job.id, detail });
    }
  }
  return only({ status: "rejected", txid: proof.txid, message: "no matching transfer" });
}

const jobFacts = (job: JobRow): JobFacts => ({
  step: job.step,
  pinned: job.pinned !== 0,
  stepAttempts: job.stepAttempts,
  deadline: job.deadline,
  pathIndex: job.pathIndex,
  paths: JSON.parse(job.candidatesJson) as Candidate[],
});
