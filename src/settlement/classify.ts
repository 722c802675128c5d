// §12.4 outcome classes of one outbound settlement call.
import type { PeerCallResult, PeerResponse } from "../peers/client";
import { RETRY_AFTER_CAP_SECONDS } from "../domain/settlement-job";

export type Outcome =
  | { kind: "success"; res: PeerResponse }
  /** The peer may or may not have acted: retry the same step with the same Idempotency-Key. */
  | { kind: "ambiguous"; reason: string; retryAfter?: number; anomaly?: boolean }
  /** The peer definitely did not act: this path is abandoned. */
  | { kind: "definite"; reason: string; status?: number; code?: string };

/** Request Timeout, Too Early, Too Many Requests: the peer did not decide; ask again. */
const AMBIGUOUS_STATUS = new Set([408, 425, 429]);
const SERVER_ERROR = 500;
const MS_PER_SECOND = 1000;
const HTTP_OK_MIN = 200;
const HTTP_REDIRECT_MIN = 300;
export const isSuccess = (status: number) => status >= HTTP_OK_MIN && status < HTTP_REDIRECT_MIN;

export function retryAfterSeconds(h: Headers): number | undefined {
  const v = h.get("retry-after");
  if (v === null) return undefined;
  if (/^[0-9]+$/.test(v)) return Math.min(Number(v), RETRY_AFTER_CAP_SECONDS);
  const at = Date.parse(v);
  if (!Number.isFinite(at)) return undefined;
  return Math.min(Math.max(0, Math.ceil((at - Date.now()) / MS_PER_SECOND)), RETRY_AFTER_CAP_SECONDS);
}

/** Transport-level class; a 2xx still needs its body checked by the step (invalid body ⇒ ambiguous + anomaly). */
export function classify(r: PeerCallResult): Outcome {
  if (r.kind === "refused") return { kind: "definite", reason: r.reason };
  if (r.kind === "failure") return { kind: "ambiguous", reason: r.reason };
  if (r.signatureValid === false) return { kind: "ambiguous", reason: "invalid_response_signature" };
  if (isSuccess(r.status)) return { kind: "success", res: r };
  if (r.status >= SERVER_ERROR || AMBIGUOUS_STATUS.has(r.status))
    return { kind: "ambiguous", reason: `http_${r.status}`, retryAfter: retryAfterSeconds(r.headers) };
  const code = (r.json as { error?: { code?: unknown } } | undefined)?.error?.code;
  const peerCode = typeof code === "string" ? code : undefined;
  return { kind: "definite", reason: `http_${r.status}`, status: r.status, code: peerCode };
}

// The retry schedules are domain data (§12.4, §14); re-exported for the settlement paths that wait on them.
export { deliveryRetryDelay, settlementRetryDelay } from "../domain/settlement-job";
