// Issue 16: one attempt at delivering an event to an operator endpoint, signed per Standard Webhooks. The same
// outbox row, bookkeeping and retry schedule as proof deliveries; the event id (webhook-id) never changes across
// retries, the timestamp and signature are those of the attempt.
import type { Gateway } from "../gateway";
import type { DeliveryRow } from "../store/deliveries";
import { checkOutboundUrl } from "../peers/ssrf";
import { fetchLimited } from "../peers/fetch-limited";
import { signatureHeaders } from "../domain/events";
import { STORED_REPLY_BYTES, type AttemptResult } from "./deliver-proof";
import { deliveryRetryDelay, isSuccess } from "./classify";
import type { RunLease } from "./run-lease";

const REPLY_MAX_BYTES = 16 * 1024;

/** What delivering an operator event needs: its endpoint and outbox rows, the SSRF allow-list, timeouts, time. */
export type EventDeliveryDeps = Pick<Gateway, "store" | "clock" | "allowlist" | "config">;

export async function deliverEvent(
  gw: EventDeliveryDeps,
  d: DeliveryRow & { endpointId: string | null },
  lease: RunLease,
): Promise<AttemptResult> {
  lease.ensure();
  const started = gw.clock();
  const endpointId = d.endpointId;
  const endpoint = endpointId ? await gw.store.read((tx) => tx.events.endpoint(endpointId)) : null;
  const noReply = { started, httpStatus: null, reply: null };
  if (!endpoint || endpoint.disabledAt !== null)
    return recordAttempt(gw, d, lease, { ...noReply, result: "rejected", latency: null, error: "endpoint disabled" });
  // The SSRF guard on every attempt: the operator's endpoint is still an outbound call (§17).
  const check = await checkOutboundUrl(endpoint.url, gw.allowlist);
  if (!check.ok)
    return recordAttempt(gw, d, lease, {
      ...noReply,
      result: "retry",
      latency: null,
      error: `url refused: ${check.reason}`,
    });
  const headers = {
    "content-type": "application/json",
    "user-agent": "opencharge-gateway",
    ...signatureHeaders(endpoint.secret, d.txid, started, d.body),
  };
  const res = await fetchLimited(
    endpoint.url,
    { method: "POST", headers, body: d.body },
    { timeoutMs: gw.config.outboundTimeouts.webhookMs, maxBytes: REPLY_MAX_BYTES },
  );
  if (!res.ok)
    return recordAttempt(gw, d, lease, { ...noReply, result: "retry", latency: res.latencyMs, error: res.reason });
  const ok = isSuccess(res.status);
  return recordAttempt(gw, d, lease, {
    started,
    result: ok ? "delivered" : "retry",
    httpStatus: res.status,
    latency: res.latencyMs,
    error: ok ? null : `http ${res.status}`,
    reply: new TextDecoder().decode(res.body.subarray(0, STORED_REPLY_BYTES)),
  });
}

type Attempt = {
  started: number;
  result: "delivered" | "rejected" | "retry";
  httpStatus: number | null;
  latency: number | null;
  error: string | null;
  reply: string | null;
};

/** The attempt row and the delivery's next state on the proofs' schedule (`dead` once outside the window). */
async function recordAttempt(
  gw: EventDeliveryDeps,
  d: DeliveryRow,
  lease: RunLease,
  a: Attempt,
): Promise<AttemptResult> {
  const windowStart = d.windowStart ?? a.started;
  const now = gw.clock();
  const attempts = d.attempts + 1;
  let state: AttemptResult = a.result;
  let nextAt = now;
  if (a.result === "retry") {
    nextAt = now + deliveryRetryDelay(attempts);
    if (nextAt > windowStart + gw.config.webhookMaxAge) state = "dead";
  }
  await gw.store.transaction((tx) =>
    lease.fenced(
      tx.deliveries.recordAttempt(d.id, lease.owner, {
        started: a.started,
        state,
        attempts,
        windowStart,
        nextAt,
        httpStatus: a.httpStatus,
        latency: a.latency,
        error: a.error,
        reply: a.reply,
        now,
      }),
    ),
  );
  return state;
}
