// Issue 16: what happened, told to the operator's systems. `emitEvent` is called inside the transaction of the
// change it reports, so an event exists iff the change committed; delivery goes through the durable outbox.
import type { Gateway } from "../gateway";
import { subscribes, type EventType } from "../domain/events";
import type { OrderRecord } from "../store/orders";
import type { Tx } from "../store";

/** Inside the transaction `tx` of the change it reports. */
export async function emitEvent(
  gw: Pick<Gateway, "clock" | "events">,
  tx: Pick<Tx, "events">,
  type: EventType,
  data: Record<string, unknown>,
  orderId: number | null = null,
): Promise<string> {
  const targets = (await tx.events.activeEndpoints())
    .filter((e) => subscribes(e.eventTypes.split(","), type))
    .map((e) => e.id);
  const id = await tx.events.record(type, data, orderId, targets, gw.clock());
  // The scheduler's wake is deferred to a timer: it runs after this transaction has committed.
  if (targets.length > 0) gw.events.deliveryEnqueued();
  return id;
}

export const orderEventData = (o: OrderRecord, status: string, txid: string | null = o.finalTxid) => ({
  id: o.id,
  orderId: o.orderId,
  merchant: o.merchantOcid,
  userId: o.userId,
  amount: o.amount,
  currency: o.currency,
  status,
  settlement: o.settlementType ? { type: o.settlementType, via: o.settlementVia } : null,
  txid,
});

export const emitOrderEvent = (
  gw: Pick<Gateway, "clock" | "events">,
  tx: Pick<Tx, "events">,
  type: EventType,
  o: OrderRecord,
  status: string,
  txid?: string | null,
) => emitEvent(gw, tx, type, orderEventData(o, status, txid === undefined ? o.finalTxid : txid), o.id);
