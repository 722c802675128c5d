// §9.6 POST /checkout/create: a merchant gateway asks one of our users (not known yet) to pay a merchant order
// on our hosted page. The MG is paid (§12.9); the user is whoever signs in and confirms.
import type { Gateway } from "../gateway";
import type { Caller } from "../http/auth";
import { ProtocolError } from "../protocol/errors";
import { parseAmount } from "../protocol/money";
import { randomHex } from "../protocol/hex";
import type { CheckoutCreateRequest } from "../protocol/schemas";
import { verifyObjectSignature } from "../protocol/signed-objects";
import { isUniqueViolation } from "../store/orders";

export async function createCheckout(gw: Gateway, caller: Caller, req: CheckoutCreateRequest) {
  const { config, store } = gw;
  const order = req.order;
  if (config.checkoutCallers.length > 0 && !config.checkoutCallers.includes(caller.ocid)) throw new ProtocolError("UNAUTHORIZED", "Caller may not create checkouts");
  if (order.ocid !== req.merchantOcid) throw new ProtocolError("UNAUTHORIZED", "order.ocid must equal merchantOcid");
  if (!(order.accepts ?? []).includes(caller.ocid)) throw new ProtocolError("SETTLEMENT_NOT_SUPPORTED", undefined, { reason: "caller_not_accepted" });
  let merchant;
  try {
    merchant = await gw.directory.resolve(req.merchantOcid);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID")
      throw new ProtocolError("INVALID_SIGNATURE", "Merchant unknown", { reason: "merchant_unknown" }, undefined, 400);
    throw e;
  }
  const sigForm = verifyObjectSignature(order, req.signature, merchant.publicKey, config.acceptReplacerCanonical);
  if (!sigForm) throw new ProtocolError("INVALID_SIGNATURE", "Invalid order signature", undefined, undefined, 400);
  const now = gw.clock();
  if (order.expiresAt !== undefined && order.expiresAt < now) throw new ProtocolError("ORDER_EXPIRED");
  const amount = parseAmount(order.amount, order.currency, gw.currencies, gw.enabledCurrencies);
  if (!amount.ok)
    throw amount.code === "INVALID_AMOUNT" ? new ProtocolError("INVALID_AMOUNT") : new ProtocolError("SETTLEMENT_NOT_SUPPORTED", undefined, { reason: "currency" });

  const sessionId = randomHex(16);
  const expiresAt = Math.min(order.expiresAt ?? Number.MAX_SAFE_INTEGER, now + config.checkoutTtl);
  store.tx(() => {
    store.sessions.insert({ id: sessionId, kind: "checkout", user_id: null, status: "used", created_at: now, expires_at: expiresAt });
    try {
      store.orders.insert({
        sessionId,
        callerOcid: caller.ocid,
        merchantOcid: order.ocid,
        orderId: order.id,
        orderJson: JSON.stringify(order),
        signature: req.signature,
        sigForm,
        urlsJson: JSON.stringify(req.urls),
        amount: order.amount,
        amountMinor: amount.minor,
        currency: order.currency,
        userId: null,
        confirmDeadline: expiresAt,
        candidates: [{ type: "checkout", via: caller.ocid }],
        settlementType: "checkout",
        settlementVia: caller.ocid,
        now,
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ProtocolError("ORDER_ALREADY_EXISTS");
      throw e;
    }
  });
  return { checkout_url: `${config.webBaseUrl}/checkout/${sessionId}`, session_id: sessionId, expires_at: expiresAt };
}
