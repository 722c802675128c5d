// §9.5: the status URL a merchant polls. Scoped to the caller; someone else's order looks exactly like none.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { expireIfDue } from "./answer-payment";
import { refundSummary } from "./refunds";

/** Longer than any order id we accept at intake: it cannot name an order. */
const MAX_ORDER_ID_LENGTH = 128;

export async function orderStatus(
  gw: Pick<Gateway, "clock" | "currencies" | "hub" | "store">,
  callerOcid: number,
  orderId: string,
) {
  if (orderId.length === 0 || orderId.length > MAX_ORDER_ID_LENGTH) throw new ProtocolError("ORDER_NOT_FOUND");
  // One read for the whole answer (a hot path: merchants poll it).
  const seen = await gw.store.read(async (tx) => {
    const found = await tx.orders.latestForCaller(callerOcid, orderId);
    if (!found) return null;
    const delivery = await tx.deliveryQueries.latestOfOrder(found.id);
    return { found, delivery, refunds: await refundSummary(gw, tx, found) };
  });
  if (!seen) throw new ProtocolError("ORDER_NOT_FOUND");
  // An order past its confirmation deadline expires now (its own transaction); it has no delivery and no refund.
  const o = await expireIfDue(gw, seen.found);
  const body: Record<string, unknown> = {
    order: { id: o.orderId, ocid: o.merchantOcid, amount: o.amount, currency: o.currency },
    status: o.status,
  };
  if (o.status === "paid" && o.finalTxid) {
    body.txid = o.finalTxid;
    body.proof = JSON.parse(o.finalProofJson!);
    body.signature = o.finalSignature;
  }
  if (o.settlementType)
    body.settlement =
      o.settlementVia === null ? { type: o.settlementType } : { type: o.settlementType, via: o.settlementVia };
  if (seen.delivery) body.delivery = { state: seen.delivery.state, attempts: seen.delivery.attempts };
  if (seen.refunds) Object.assign(body, seen.refunds);
  body.updatedAt = o.updatedAt;
  return body;
}
