// §9.7 Idempotency-Key: records keyed by (X-OC-ID, Idempotency-Key) with the SHA-256 of the raw body, kept 24 h.
// Both sides use the window: the receiver keeps its records that long, a sender may resend a transfer within it.
export const IDEMPOTENCY_TTL = 24 * 3600;
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/;
