// Issue 16: what the operator reads about orders, deliveries and the books; and the in_review resolution.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { formatMinor } from "../protocol/money";
import type { OrderRecord } from "../store/orders";
import type { Tx } from "../store";
import { isOrderStatus, ORDER_STATUSES } from "../domain/order-lifecycle";
import type { DeliveryRow, DeliveryState } from "../store/deliveries";
import type { OrderSearch } from "../store/order-queries";
import { OperatorError } from "../flows/accounts";
import { resolveOrder } from "../flows/operator-resolve";
import { refundJson } from "../flows/refunds";

export { ORDER_STATUSES };
const DELIVERY_STATES: DeliveryState[] = ["pending", "delivered", "rejected", "dead"];
const OCID_RE = /^[1-9][0-9]{0,15}$/;
const MS_PER_SECOND = 1000;

export async function orderItem(gw: Pick<Gateway, "currencies">, tx: Tx, o: OrderRecord) {
  const { succeeded } = await tx.refunds.totals(o.id);
  return {
    id: o.id,
    orderId: o.orderId,
    merchant: o.merchantOcid,
    caller: o.callerOcid,
    userId: o.userId,
    amount: o.amount,
    currency: o.currency,
    status: o.status,
    refunded: formatMinor(succeeded, o.currency, gw.currencies),
    settlement: o.settlementType ? { type: o.settlementType, via: o.settlementVia } : null,
    txid: o.finalTxid,
    receivedAt: o.receivedAt,
    updatedAt: o.updatedAt,
  };
}

export type OrderFilter = { status?: string; merchant?: string; userId?: string; from?: string; to?: string };

/** `from`/`to`: Unix seconds or an ISO 8601 date; the range is [from, to). */
export function timeParam(v: string | undefined, name: string): number | null {
  if (v === undefined || v === "") return null;
  if (/^[0-9]{1,12}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new ProtocolError("INVALID_REQUEST", `${name}: Unix seconds or an ISO 8601 date`, { fields: [name] });
  return Math.floor(t / MS_PER_SECOND);
}

/** Validates the operator's filter into the store's search (unknown status or a malformed OCID: 400). */
function orderSearch(f: OrderFilter): OrderSearch {
  const search: OrderSearch = {};
  if (f.status !== undefined) {
    if (!isOrderStatus(f.status)) {
      throw new ProtocolError("INVALID_REQUEST", `status: one of ${ORDER_STATUSES.join(", ")}`, { fields: ["status"] });
    }
    search.status = f.status;
  }
  if (f.merchant !== undefined) {
    if (!OCID_RE.test(f.merchant))
      throw new ProtocolError("INVALID_REQUEST", "merchant: an OCID", { fields: ["merchant"] });
    search.merchant = Number(f.merchant);
  }
  if (f.userId !== undefined) search.userId = f.userId;
  const from = timeParam(f.from, "from");
  const to = timeParam(f.to, "to");
  if (from !== null) search.from = from;
  if (to !== null) search.to = to;
  return search;
}

/** Newest first; `before` is an order id (exclusive). */
export async function listOrders(tx: Tx, f: OrderFilter, before: number, limit: number): Promise<OrderRecord[]> {
  const out: OrderRecord[] = [];
  for (const id of await tx.orderQueries.search(orderSearch(f), before, limit)) out.push((await tx.orders.byId(id))!);
  return out;
}

export function deliveryItem(d: DeliveryRow & { kind?: string; endpointId?: string | null }) {
  return {
    id: d.id,
    kind: d.kind ?? "proof",
    orderId: d.orderId,
    target: d.kind === "event" ? (d.endpointId ?? null) : d.targetOcid,
    txid: d.txid,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt,
    lastHttpStatus: d.lastHttpStatus,
    lastError: d.lastError,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export function orderDetail(gw: Pick<Gateway, "currencies" | "store">, id: number) {
  return gw.store.read((tx) => orderDetailIn(gw, tx, id));
}

async function orderDetailIn(gw: Pick<Gateway, "currencies">, tx: Tx, id: number) {
  const o = await tx.orders.byId(id);
  if (!o) throw new ProtocolError("ORDER_NOT_FOUND");
  const job = await tx.jobs.byOrder(o.id);
  const anomalies = await tx.anomalies.ofOrder(o.id);
  const deliveries = (await tx.deliveryQueries.ofOrder(o.id)).map(deliveryItem);
  return {
    order: {
      ...(await orderItem(gw, tx, o)),
      order: JSON.parse(o.orderJson),
      urls: JSON.parse(o.urlsJson),
      candidates: JSON.parse(o.candidatesJson),
      confirmedAt: o.confirmedAt,
    },
    proof: o.finalProofJson ? { proof: JSON.parse(o.finalProofJson), signature: o.finalSignature } : null,
    job: job
      ? {
          id: job.id,
          state: job.state,
          step: job.step,
          pathIndex: job.pathIndex,
          pinned: !!job.pinned,
          attempts: job.attempts,
          deadline: job.deadline,
          lastError: job.lastError,
        }
      : null,
    deliveries,
    anomalies,
    refunds: (await tx.refunds.byOrder(o.id)).map((r) => refundJson(gw, r)),
  };
}

/** The CLI's `orders resolve`, audited; an operator error here is a state conflict (409). */
export async function adminResolve(gw: Gateway, actor: string, id: number, action: "paid" | "refund", proof?: unknown) {
  let message: string;
  try {
    message = await resolveOrder(gw, id, action, proof);
  } catch (e) {
    if (e instanceof OperatorError) {
      const known = await gw.store.read((tx) => tx.orders.byId(id));
      throw new ProtocolError(known ? "INVALID_STATE" : "ORDER_NOT_FOUND", e.message);
    }
    throw e;
  }
  const proofTxid = (proof as { proof?: { txid?: unknown } })?.proof?.txid ?? null;
  const order = await gw.store.transaction(async (tx) => {
    await tx.audit.append(actor, "orders.resolve", { orderId: id, action, proofTxid }, gw.clock());
    return orderItem(gw, tx, (await tx.orders.byId(id))!);
  });
  return { message, order };
}

export function listDeliveries(gw: Pick<Gateway, "store">, state: string | undefined, after: number, limit: number) {
  if (state !== undefined && !(DELIVERY_STATES as string[]).includes(state))
    throw new ProtocolError("INVALID_REQUEST", `state: one of ${DELIVERY_STATES.join(", ")}`, { fields: ["state"] });
  return gw.store.read((tx) => tx.deliveryQueries.page(state ?? null, after, limit));
}

export async function replayDelivery(gw: Pick<Gateway, "clock" | "events" | "store">, actor: string, id: string) {
  const now = gw.clock();
  const replayed = await gw.store.transaction(async (tx) => {
    if (!(await tx.deliveries.replay(id, now))) return null;
    await tx.audit.append(actor, "deliveries.replay", { deliveryId: id }, now);
    return tx.deliveries.byId(id);
  });
  if (!replayed) throw new ProtocolError("NOT_FOUND", "No such delivery", { deliveryId: id });
  gw.events.deliveryEnqueued();
  return { delivery: deliveryItem(replayed) };
}

export async function ledgerBalances(gw: Pick<Gateway, "currencies" | "store">, account: string | undefined) {
  const { rows, check } = await gw.store.read(async (tx) => ({
    rows: await tx.ledger.balances(account),
    check: await tx.ledger.check(),
  }));
  return {
    balances: rows.map((r) => ({ ...r, balance: formatMinor(r.balance, r.currency, gw.currencies) })),
    check: { ok: check.ok, problems: check.problems },
  };
}
