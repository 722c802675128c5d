// §9.5: the status URL a merchant polls. Scoped to the caller; someone else's order looks exactly like none.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { expireIfDue } from "./answer-payment";
import { refundSummary } from "./refunds";
import { compileValidator } from "../protocol/validate";
import { Id128 } from "../protocol/schemas";

/**
 * The order id rule of intake (§9.4): an id it refuses (too long, a control character) cannot name an order. Checked
 * before the database: PostgreSQL cannot even compare a text holding NUL (it answered 500 for `/orders/%00/status`).
 */
const isOrderId = compileValidator(Id128);

export async function orderStatus(
  gw: Pick<Gateway, "clock" | "currencies" | "hub" | "store">,
  callerOcid: number,
  orderId: string,
) {
  if (!isOrderId(orderId).ok) throw new ProtocolError("ORDER_NOT_FOUND");
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
