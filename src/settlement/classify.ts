// §12.4 outcome classes of one outbound settlement call.
import type { PeerCallResult, PeerResponse } from "../peers/client";

export type Outcome =
  | { kind: "success"; res: PeerResponse }
  /** The peer may or may not have acted: retry the same step with the same Idempotency-Key. */
  | { kind: "ambiguous"; reason: string; retryAfter?: number; anomaly?: boolean }
  /** The peer definitely did not act: this path is abandoned. */
  | { kind: "definite"; reason: string; status?: number; code?: string };

const AMBIGUOUS_STATUS = new Set([408, 425, 429]);

export function retryAfterSeconds(h: Headers): number | undefined {
  const v = h.get("retry-after");
  if (v === null) return undefined;
  if (/^[0-9]+$/.test(v)) return Math.min(Number(v), 60);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.min(Math.max(0, Math.ceil((at - Date.now()) / 1000)), 60) : undefined;
}

/** Transport-level class; a 2xx still needs its body checked by the step (invalid body ⇒ ambiguous + anomaly). */
export function classify(r: PeerCallResult): Outcome {
  if (r.kind === "refused") return { kind: "definite", reason: r.reason };
  if (r.kind === "failure") return { kind: "ambiguous", reason: r.reason };
  if (r.signatureValid === false) return { kind: "ambiguous", reason: "invalid_response_signature" };
  if (r.status >= 200 && r.status < 300) return { kind: "success", res: r };
  if (r.status >= 500 || AMBIGUOUS_STATUS.has(r.status))
    return { kind: "ambiguous", reason: `http_${r.status}`, retryAfter: retryAfterSeconds(r.headers) };
  const code = (r.json as { error?: { code?: unknown } } | undefined)?.error?.code;
  return { kind: "definite", reason: `http_${r.status}`, status: r.status, code: typeof code === "string" ? code : undefined };
}

/** Retry delays for ambiguous outcomes: 5 s, 15 s, 30 s, 60 s, then every 60 s. */
export function settlementRetryDelay(stepAttempts: number): number {
  return [5, 15, 30, 60][stepAttempts - 1] ?? 60;
}

/** Webhook delays: 10 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly (§14). */
export function deliveryRetryDelay(attempts: number): number {
  return [10, 60, 300, 600, 1800, 3600][attempts - 1] ?? 3600;
}
