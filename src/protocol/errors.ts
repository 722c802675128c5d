// §15: one table of every code → HTTP status and default message, and one constructor for the error JSON.
export const ERRORS = {
  INVALID_SIGNATURE: [401, "Invalid signature"],
  TIMESTAMP_EXPIRED: [401, "Timestamp outside the allowed window"],
  NONCE_REUSED: [401, "Nonce already used"],
  UNKNOWN_OCID: [401, "Unknown OCID"],
  METADATA_UNAVAILABLE: [502, "Metadata unavailable"],
  INVALID_REQUEST: [400, "Invalid request"],
  INVALID_AMOUNT: [400, "Invalid amount"],
  ORDER_EXPIRED: [400, "Order has expired"],
  SETTLEMENT_NOT_SUPPORTED: [400, "Cannot settle with merchant"],
  ACCOUNT_NOT_FOUND: [400, "Account not found"],
  INVALID_PROOF: [400, "Invalid proof"],
  PROOF_SIGNATURE_INVALID: [400, "Invalid proof signature"],
  ISSUER_NOT_ACCEPTED: [400, "Issuer not accepted"],
  INVALID_TOKEN: [401, "Invalid token"],
  PASSKEY_REJECTED: [400, "Passkey not accepted"],
  INSUFFICIENT_FUNDS: [402, "Insufficient funds"],
  UNAUTHORIZED: [403, "Unauthorized"],
  NOT_FOUND: [404, "Not found"],
  SESSION_NOT_FOUND: [404, "Session not found"],
  SESSION_EXPIRED: [404, "Session has expired"],
  ORDER_NOT_FOUND: [404, "Order not found"],
  ORDER_ALREADY_EXISTS: [409, "Order already exists"],
  INVALID_STATE: [409, "Invalid state"],
  SESSION_USED: [410, "Session already used"],
  PAYLOAD_TOO_LARGE: [413, "Payload too large"],
  RATE_LIMITED: [429, "Rate limited"],
  INTERNAL_ERROR: [500, "Internal error"],
  // Issue 16 (operator API and the rules it enforces): not in SPEC §15, ours.
  ACCOUNT_FROZEN: [403, "Account is frozen"],
  IDEMPOTENCY_IN_PROGRESS: [409, "A request with this Idempotency-Key is still in progress"],
  IDEMPOTENCY_KEY_REUSED: [422, "Idempotency-Key reused with another request"],
  LIMIT_EXCEEDED: [422, "Limit exceeded"],
  REFUND_EXCEEDS_PAID: [422, "Refunds would exceed the amount paid"],
  // Issue 21: a KYC callback whose state is unknown, used or expired.
  KYC_STATE_INVALID: [400, "Verification link is not valid"],
  // Pay by scanning (issue 13): what the scanned code turned out to be, so the app can say what to do.
  CODE_NOT_RECOGNIZED: [400, "This is not an Opencharge payment code"],
  CODE_EXPIRED: [400, "This code has expired; ask the merchant for a new one"],
  NOT_A_MERCHANT: [400, "This code does not belong to a merchant this wallet can pay"],
  ORDER_URL_REFUSED: [400, "The code points outside the merchant's registered endpoint"],
  AMOUNT_REQUIRED: [400, "Enter the amount to pay"],
  MERCHANT_UNAVAILABLE: [502, "The merchant did not answer; try again"],
  MERCHANT_RESPONSE_INVALID: [502, "The merchant's answer was not usable"],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorBody = { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

export const statusOf = (code: ErrorCode): number => ERRORS[code][0];

export function errorBody(code: ErrorCode, message?: string, details?: Record<string, unknown>): ErrorBody {
  const error: ErrorBody["error"] = { code, message: message ?? ERRORS[code][1] };
  if (details && Object.keys(details).length > 0) error.details = details;
  return { error };
}

/** Thrown anywhere below the routes; the HTTP layer turns it into the §15 JSON with the table's status. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
    /** §15: INVALID_SIGNATURE is 401 for a request signature but 400 for an order signature in the body. */
    private readonly statusOverride?: number,
  ) {
    super(message ?? ERRORS[code][1]);
  }
  get status(): number {
    return this.statusOverride ?? statusOf(this.code);
  }
  body(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}
