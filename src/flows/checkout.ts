// §9.6 POST /checkout/create: a merchant gateway asks one of our users (not known yet) to pay a merchant order
// on our hosted page. The MG is paid (§12.9); the user is whoever signs in and confirms.
import type { Gateway } from "../gateway";
import type { Caller } from "../http/auth";
import { ProtocolError } from "../protocol/errors";
import { randomHex } from "../protocol/hex";
import type { CheckoutCreateRequest } from "../protocol/schemas";
import { amountOrThrow, orderNotExpiredOrThrow, storeOrder, verifyOrderOrThrow } from "./order-intake";

/** What creating a hosted checkout uses of the gateway. */
type CheckoutDeps = Pick<
  Gateway,
  "clock" | "config" | "currencies" | "directory" | "enabledCurrencies" | "observeDialect" | "store" | "verifier"
>;

export async function createCheckout(gw: CheckoutDeps, caller: Caller, req: CheckoutCreateRequest) {
  const { config, store } = gw;
  const order = req.order;
  if (config.checkoutCallers.length > 0 && !config.checkoutCallers.includes(caller.ocid))
    throw new ProtocolError("UNAUTHORIZED", "Caller may not create checkouts");
  if (order.ocid !== req.merchantOcid) throw new ProtocolError("UNAUTHORIZED", "order.ocid must equal merchantOcid");
  if (!(order.accepts ?? []).includes(caller.ocid))
    throw new ProtocolError(
      "SETTLEMENT_NOT_SUPPORTED",
      `order.accepts must include the caller's OCID ${caller.ocid} (the checkout is paid to you)`,
      {
        reason: "caller_not_accepted",
        caller: caller.ocid,
        accepts: order.accepts ?? [],
      },
    );
  let merchant;
  try {
    merchant = await gw.directory.resolve(req.merchantOcid);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID")
      throw new ProtocolError(
        "INVALID_SIGNATURE",
        `Merchant unknown: OCID ${req.merchantOcid} has no registered metadata`,
        { reason: "merchant_unknown", merchantOcid: req.merchantOcid },
        undefined,
        400,
      );
    throw e;
  }
  const sigForm = await verifyOrderOrThrow(gw, order, req.signature, merchant.publicKey);
  const now = gw.clock();
  orderNotExpiredOrThrow(order, now);
  const amountMinor = amountOrThrow(gw, order.amount, order.currency);

  const sessionId = randomHex(16);
  const expiresAt = Math.min(order.expiresAt ?? Number.MAX_SAFE_INTEGER, now + config.checkoutTtl);
  await store.transaction(async (tx) => {
    await tx.sessions.insert({
      id: sessionId,
      kind: "checkout",
      userId: null,
      status: "used",
      createdAt: now,
      expiresAt,
    });
    await storeOrder(
      tx,
      order,
      { signature: req.signature, sigForm, urls: req.urls, amountMinor, merchant },
      {
        sessionId,
        callerOcid: caller.ocid,
        userId: null,
        confirmDeadline: expiresAt,
        candidates: [{ type: "checkout", via: caller.ocid }],
        settlementType: "checkout",
        settlementVia: caller.ocid,
        now,
      },
    );
  });
  return { checkout_url: `${config.webBaseUrl}/checkout/${sessionId}`, session_id: sessionId, expires_at: expiresAt };
}
