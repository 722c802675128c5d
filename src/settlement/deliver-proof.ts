// §14: one delivery attempt of a proof to the target's registered /transfer/webhook, and its bookkeeping.
import type { Gateway } from "../gateway";
import type { DeliveryRow } from "../store/deliveries";
import { deliveryRetryDelay } from "./classify";

export type AttemptResult = "delivered" | "rejected" | "retry" | "dead";

export async function deliverProof(gw: Gateway, d: DeliveryRow, owner: string): Promise<AttemptResult> {
  const started = gw.clock();
  const windowStart = d.window_start ?? started;
  const res = await gw.peers.call(d.target_ocid, "POST", "/transfer/webhook", undefined, {
    rawBody: d.body,
    idempotencyKey: d.id,
    timeoutMs: gw.config.outboundTimeouts.webhookMs,
  });
  let result: "delivered" | "rejected" | "retry" = "retry";
  let error: string | null = null;
  let httpStatus: number | null = null;
  let reply: string | null = null;
  let latency: number | null = null;
  if (res.kind === "response") {
    httpStatus = res.status;
    latency = res.latencyMs;
    reply = new TextDecoder().decode(res.body.subarray(0, 1024));
    const body = res.json as { status?: unknown; txid?: unknown; message?: unknown } | undefined;
    if (res.signatureValid === false) error = "invalid response signature";
    else if (res.status < 200 || res.status >= 300) error = `http ${res.status}`;
    else if (body && typeof body === "object" && body.status === "accepted") result = "delivered";
    else if (body && typeof body === "object" && body.status === "rejected") result = "rejected";
    else error = "unexpected reply";
    if (result !== "retry" && body?.txid !== undefined && body.txid !== d.txid) gw.log.warn("webhook reply names another txid", { delivery: d.id, txid: String(body.txid) });
    if (result === "rejected") gw.log.warn("webhook rejected a proof", { delivery: d.id, target: d.target_ocid, message: String(body?.message ?? "") });
  } else {
    error = res.reason;
    latency = res.kind === "failure" ? res.latencyMs : null;
  }

  const now = gw.clock();
  const attempts = d.attempts + 1;
  let state: AttemptResult = result;
  let nextAt = now;
  if (result === "retry") {
    nextAt = now + deliveryRetryDelay(attempts);
    if (nextAt > windowStart + gw.config.webhookMaxAge) state = "dead";
  }
  gw.store.tx(() => {
    gw.db
      .query("INSERT INTO delivery_attempts (delivery_id, at, http_status, latency_ms, error, result) VALUES (?, ?, ?, ?, ?, ?)")
      .run(d.id, started, httpStatus, latency, error, state);
    gw.db
      .query(
        `UPDATE deliveries SET state = ?, attempts = ?, first_attempt_at = COALESCE(first_attempt_at, ?), window_start = ?,
           next_attempt_at = ?, last_http_status = ?, last_error = ?, last_reply = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ?`,
      )
      .run(state === "retry" ? "pending" : state, attempts, started, windowStart, nextAt, httpStatus, error, reply, now, d.id, owner);
  });
  return state;
}
