// §14 + issue 12: what a merchant's answer to a proof webhook says, read as data. The docs' handlers answer a proof
// they cannot verify with 4xx and a protocol error body, or 5xx VERIFICATION_ERROR when their library throws.
// Pure.

/** Codes that mean "your signature did not verify for me": worth one re-delivery in another dialect. */
export const SIGNATURE_REJECTION_CODES: ReadonlySet<string> = new Set([
  "PROOF_SIGNATURE_INVALID",
  "INVALID_SIGNATURE",
  "VERIFICATION_ERROR",
]);

export type WebhookAnswer = {
  /** The merchant's own error code and message, when its body is a §15 error object. */
  peerCode: string | null;
  peerMessage: string | null;
  signatureRejected: boolean;
};

const MAX_MESSAGE = 200;
const HTTP_CLIENT_ERROR = 400;
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

export function readWebhookAnswer(status: number, json: unknown): WebhookAnswer {
  const err = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const peerCode = err && typeof err.code === "string" && CODE.test(err.code) ? err.code : null;
  const peerMessage = err && typeof err.message === "string" ? err.message.slice(0, MAX_MESSAGE) : null;
  const failed = status >= HTTP_CLIENT_ERROR;
  // INVALID_PROOF also covers structure and amount problems: only a message naming the signature makes it one.
  const namesSignature = peerCode === "INVALID_PROOF" && /signature/i.test(peerMessage ?? "");
  const signatureRejected = failed && peerCode !== null && (SIGNATURE_REJECTION_CODES.has(peerCode) || namesSignature);
  return { peerCode, peerMessage, signatureRejected };
}
