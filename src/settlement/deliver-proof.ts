// §14: one delivery attempt of a proof to the target's registered /transfer/webhook, and its bookkeeping.
// Issue 12: the merchant's own error code and message are recorded, and a signature-related rejection re-signs the
// proof (same proof bytes, a new signature) and the request in the next plausible dialect, recorded as what this
// peer was taught; the first such re-delivery goes out at once, before the normal retry schedule.
import type { Gateway } from "../gateway";
import type { DeliveryRow } from "../store/deliveries";
import { canonDeep } from "../protocol/canonical";
import { nextPlausible, signAs, type SignDialect } from "../protocol/dialects";
import { deliveryRetryDelay, isSuccess } from "./classify";
import { readWebhookAnswer, type WebhookAnswer } from "./webhook-answer";
import { emitEvent } from "../notify/operator-events";
import { commit, WAKE_DELIVERIES } from "./effects";
import type { RunLease } from "./run-lease";

export type AttemptResult = "delivered" | "rejected" | "retry" | "dead";

/** §11.2: a delivery keeps the first KiB of the last reply. */
export const STORED_REPLY_BYTES = 1024;

/** The stored body with the same proof object and a signature in `dialect` (§14's byte-for-byte rule bends here). */
function resigned(gw: Pick<Gateway, "key">, body: string, dialect: SignDialect): string {
  const { proof } = JSON.parse(body) as { proof: Record<string, unknown> };
  return JSON.stringify({ proof, signature: signAs(canonDeep(proof), gw.key.secret, dialect) });
}

export async function deliverProof(
  gw: Pick<Gateway, "clock" | "config" | "events" | "hub" | "key" | "log" | "peers" | "store">,
  d: DeliveryRow,
  lease: RunLease,
): Promise<AttemptResult> {
  lease.ensure();
  const started = gw.clock();
  const windowStart = d.windowStart ?? started;
  // The dialect this attempt's request is signed in (handed to the client: one read); the body was signed so too.
  const used = await gw.store.read((tx) => tx.dialects.signingFor(d.targetOcid));
  const res = await gw.peers.call(d.targetOcid, "POST", "/transfer/webhook", undefined, {
    rawBody: d.body,
    dialect: used,
    idempotencyKey: d.id,
    timeoutMs: gw.config.outboundTimeouts.webhookMs,
  });
  let result: "delivered" | "rejected" | "retry" = "retry";
  let error: string | null = null;
  let httpStatus: number | null = null;
  let reply: string | null = null;
  let latency: number | null = null;
  let answer: WebhookAnswer = { peerCode: null, peerMessage: null, signatureRejected: false };
  if (res.kind === "response") {
    httpStatus = res.status;
    latency = res.latencyMs;
    reply = new TextDecoder().decode(res.body.subarray(0, STORED_REPLY_BYTES));
    answer = readWebhookAnswer(res.status, res.json);
    const body = res.json as { status?: unknown; txid?: unknown; message?: unknown } | undefined;
    if (res.signatureValid === false) error = "invalid response signature";
    else if (!isSuccess(res.status))
      error = [`http ${res.status}`, answer.peerCode, answer.peerMessage && `(${answer.peerMessage})`]
        .filter(Boolean)
        .join(" ");
    else if (body && typeof body === "object" && body.status === "accepted") result = "delivered";
    else if (body && typeof body === "object" && body.status === "rejected") result = "rejected";
    else error = "unexpected reply";
    if (result !== "retry" && body?.txid !== undefined && body.txid !== d.txid)
      gw.log.warn("webhook reply names another txid", { delivery: d.id, txid: String(body.txid) });
    if (result === "rejected") {
      const message = String(body?.message ?? "");
      gw.log.warn("webhook rejected a proof", { delivery: d.id, target: d.targetOcid, message });
    }
  } else {
    error = res.reason;
    latency = res.kind === "failure" ? res.latencyMs : null;
  }

  const now = gw.clock();
  const attempts = d.attempts + 1;
  let state: AttemptResult = result;
  let nextAt = now;
  const next = result === "retry" && answer.signatureRejected ? nextPlausible(used) : null;
  const immediate = next !== null && !d.dialectRetried;
  let body = d.body;
  if (next) {
    body = resigned(gw, d.body, next);
    const facts = { delivery: d.id, target: d.targetOcid, code: answer.peerCode, ...next };
    gw.log.info("webhook signature rejected: re-signing in the next dialect", facts);
  }
  if (result === "retry" && !immediate) {
    // The immediate dialect re-delivery sits before the schedule, so it does not push the schedule a step on.
    nextAt = now + deliveryRetryDelay(attempts - (d.dialectRetried ? 1 : 0));
    if (nextAt > windowStart + gw.config.webhookMaxAge) state = "dead";
  }
  await commit(gw, async (tx) => {
    if (next) await tx.dialects.learn(d.targetOcid, next, now);
    const recorded = tx.deliveries.recordProofAttempt(d.id, lease.owner, {
      started,
      state,
      attempts,
      windowStart,
      nextAt,
      httpStatus,
      latency,
      error,
      reply,
      now,
      peerCode: answer.peerCode,
      peerMessage: answer.peerMessage,
      dialect: `${used.encoding}/${used.hash}`,
      body,
      dialectRetried: immediate,
    });
    await lease.fenced(recorded);
    // Issue 16: the operator's systems hear of a proof delivery that gave up, in the same transaction.
    if (state === "dead") {
      const detail = {
        deliveryId: d.id,
        orderId: d.orderId,
        target: d.targetOcid,
        txid: d.txid,
        attempts,
        lastError: error,
      };
      await emitEvent(gw, tx, "delivery.dead", detail, d.orderId);
    }
    // The one immediate re-delivery in the next dialect is due now: the scheduler runs it after the commit.
    return { value: undefined, effects: immediate ? [WAKE_DELIVERIES] : [] };
  });
  return state;
}
