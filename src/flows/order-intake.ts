// The checks and the insert that a session submit (§9.4) and a hosted checkout (§9.6) share.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { parseAmount } from "../protocol/money";
import type { Order } from "../protocol/schemas";
import type { SigForm } from "../protocol/signed-objects";
import { parseSignature } from "../protocol/signatures";
import { sha256Bytes } from "../protocol/hash";
import { canonDeep, canonReplacer } from "../protocol/canonical";
import { encodingName, HASH_MODES } from "../protocol/dialects";
import type { NewOrder } from "../store/orders";
import { isUniqueViolation } from "../store/constraint";
import type { Tx } from "../store";
import type { Prechecked } from "../verify-pool";

/**
 * §6.2 with the SPEC's error mapping: a disabled currency is SETTLEMENT_NOT_SUPPORTED, a bad string INVALID_AMOUNT.
 */
export function amountOrThrow(
  gw: Pick<Gateway, "currencies" | "enabledCurrencies">,
  amount: string,
  currency: string,
): bigint {
  const r = parseAmount(amount, currency, gw.currencies, gw.enabledCurrencies);
  if (r.ok) return r.minor;
  throw new ProtocolError(r.code, r.message, r.details);
}

/** What a merchant signs for `order` in the deep canonical form (§5), with one SHA-256: the first form we try. */
export const orderDigest = (order: Order): Uint8Array => sha256Bytes(canonDeep(order));

/**
 * The merchant's order signature, deep or (if allowed) replacer form; a failure is 400, not 401 (§15).
 * `known`: the deep digest's outcome, already checked with the request's signature (protocolRoute's `expect`).
 */
export async function verifyOrderOrThrow(
  gw: Pick<Gateway, "config" | "observeDialect" | "verifier">,
  order: Order,
  signature: string,
  merchantKey: Uint8Array,
  known?: Prechecked,
): Promise<SigForm> {
  const invalid = (reason = "order_signature") =>
    new ProtocolError(
      "INVALID_SIGNATURE",
      reason === "order_signature"
        ? "Invalid order signature: sign SHA-256 of the canonical JSON of `order` with the key in your metadata"
        : "Malformed order signature: expected 64-byte r||s or 65-byte r||s||v, hex",
      { reason },
      undefined,
      400,
    );
  const sig = parseSignature(signature);
  if (!sig.ok) throw invalid("malformed_signature");
  const forms: [SigForm, Uint8Array][] = [["deep", known?.digest ?? orderDigest(order)]];
  if (gw.config.acceptReplacerCanonical) forms.push(["replacer", sha256Bytes(canonReplacer(order))]);
  const check = async (digest: Uint8Array) =>
    digest === known?.digest
      ? known.ok
      : gw.verifier.verifyAny({ digests: [digest], r: sig.r, s: sig.s, pub: merchantKey });
  // Single SHA-256 in both forms first; the double hash (noble 3.x prehash left on) only after, and recorded.
  for (const hash of HASH_MODES)
    for (const [form, once] of forms)
      if (await check(hash === "sha256" ? once : sha256Bytes(once))) {
        gw.observeDialect(order.ocid, { form, encoding: encodingName(sig.encoding), hash }, "order");
        return form;
      }
  throw invalid();
}

export function orderNotExpiredOrThrow(order: Order, now: number): void {
  if (order.expiresAt !== undefined && order.expiresAt < now)
    throw new ProtocolError("ORDER_EXPIRED", `Order expired at ${order.expiresAt}; our time is ${now}`, {
      reason: "expired",
      expiresAt: order.expiresAt,
      serverTime: now,
    });
}

/** In the caller's transaction `tx`: the order as received, or 409 when an active one with the same id exists. */
export async function storeOrder(
  tx: Tx,
  order: Order,
  received: {
    signature: string;
    sigForm: SigForm;
    urls: unknown;
    amountMinor: bigint;
    merchant?: { name?: string; endpoint?: string };
  },
  rest: Pick<
    NewOrder,
    | "sessionId"
    | "callerOcid"
    | "userId"
    | "confirmDeadline"
    | "candidates"
    | "settlementType"
    | "settlementVia"
    | "now"
  >,
): Promise<number> {
  try {
    const row = await tx.orders.insert({
      ...rest,
      merchantOcid: order.ocid,
      orderId: order.id,
      orderJson: JSON.stringify(order),
      signature: received.signature,
      sigForm: received.sigForm,
      urlsJson: JSON.stringify(received.urls),
      amount: order.amount,
      amountMinor: received.amountMinor,
      currency: order.currency,
    });
    if (received.merchant) await tx.merchants.remember(row, received.merchant);
    return row;
  } catch (e) {
    // The active-order index: one live order per (merchant, order id).
    if (isUniqueViolation(e, "orders", ["merchant_ocid", "order_id"])) throw new ProtocolError("ORDER_ALREADY_EXISTS");
    throw e;
  }
}
