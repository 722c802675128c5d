// Issue 16: refunds of paid orders, as their own records (several, partial or full, never more than was paid).
//  - Settled in our own books (direct, hosted checkout): the recipient's account with us is debited and the user
//    credited in one transaction, with a signed refund notice — our proof of the transfer from the merchant's
//    account back to the user, referencing the order — delivered to the merchant's /transfer/webhook through the
//    durable outbox.
//  - Settled through a partner or a third party: the money is at the peer; the refund stays `pending` until the
//    peer's proof of the transfer back to the user arrives at /transfer/webhook (applyRefundProof).
//  - A merchant's own /transfer/create to the user naming one of its paid orders is recorded as a refund of it.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { formatMinor, parseAmount } from "../protocol/money";
import type { Proof } from "../protocol/schemas";
import { amountOrThrow } from "./order-intake";
import { externalAccount, InsufficientFunds, peerAccount, userAccount } from "../store/ledger";
import type { OrderRecord } from "../store/orders";
import type { RefundRow } from "../store/refunds";
import { issueProof } from "../settlement/proofs";
import { emitEvent, orderEventData } from "../notify/operator-events";
import type { Tx } from "../store";

/** The ledger reason of money going back to a user for a paid order (not a failed payment's `refund`). */
export const ORDER_REFUND = "order_refund";

export const refundJson = (
  gw: Pick<Gateway, "currencies">,
  r: Pick<
    RefundRow,
    "id" | "orderId" | "amountMinor" | "currency" | "status" | "method" | "txid" | "createdAt" | "completedAt"
  >,
) => ({
  id: r.id,
  orderId: r.orderId,
  amount: formatMinor(r.amountMinor, r.currency, gw.currencies),
  currency: r.currency,
  status: r.status,
  method: r.method,
  txid: r.txid,
  createdAt: r.createdAt,
  completedAt: r.completedAt,
});

/** Settled in our books: the account the payment was credited to; otherwise null (money is at a peer). */
function localRecipient(o: OrderRecord): number | null {
  if (o.settlementType === "direct") return o.merchantOcid;
  if (o.settlementType === "checkout" && o.settlementVia !== null) return o.settlementVia;
  return null;
}

/** Inside the transaction: refuse a refund that would take the committed total above the amount paid. */
async function checkCap(
  gw: Pick<Gateway, "currencies">,
  tx: Tx,
  o: OrderRecord,
  minor: bigint,
  committed?: bigint,
): Promise<void> {
  committed ??= (await tx.refunds.totals(o.id)).committed;
  if (committed + minor <= o.amountMinor) return;
  const f = (m: bigint) => formatMinor(m, o.currency, gw.currencies);
  throw new ProtocolError(
    "REFUND_EXCEEDS_PAID",
    `Order paid ${f(o.amountMinor)} ${o.currency}; ${f(committed)} is already refunded or pending, ` +
      `so at most ${f(o.amountMinor - committed)} more`,
    {
      paid: f(o.amountMinor),
      refunded: f(committed),
      refundable: f(o.amountMinor - committed),
    },
  );
}

export async function refundOrder(gw: Gateway, actor: string, orderRowId: number, amount: string | undefined) {
  const found = await gw.store.read((tx) => tx.orders.byId(orderRowId));
  if (!found) throw new ProtocolError("ORDER_NOT_FOUND");
  const requested = amount === undefined ? null : amountOrThrow(gw, amount, found.currency);
  const now = gw.clock();
  let delivered = false;
  const refund = await gw.store.transaction(async (tx) => {
    const o = (await tx.orders.byId(orderRowId))!;
    if (o.status !== "paid" || !o.userId)
      throw new ProtocolError("INVALID_STATE", `Only paid orders are refunded; this one is ${o.status}`, {
        status: o.status,
      });
    const { committed } = await tx.refunds.totals(o.id);
    const minor = requested ?? o.amountMinor - committed;
    if (minor <= 0n)
      throw new ProtocolError("REFUND_EXCEEDS_PAID", "The order is already refunded in full", {
        refundable: formatMinor(0n, o.currency, gw.currencies),
      });
    await checkCap(gw, tx, o, minor, committed);
    const text = formatMinor(minor, o.currency, gw.currencies);
    const recipient = localRecipient(o);
    let id: string;
    if (recipient === null) {
      id = await tx.refunds.insert({
        orderId: o.id,
        amount: text,
        minor,
        currency: o.currency,
        status: "pending",
        method: "partner",
        createdBy: actor,
        now,
      });
    } else {
      try {
        await tx.ledger.move({
          from: peerAccount(recipient),
          to: userAccount(o.userId),
          currency: o.currency,
          amount: minor,
          reason: ORDER_REFUND,
          orderId: o.id,
          now,
        });
      } catch (e) {
        if (e instanceof InsufficientFunds)
          throw new ProtocolError("INSUFFICIENT_FUNDS", "The merchant's balance with us is too low for this refund");
        throw e;
      }
      const notice = await issueProof(
        tx.proofs,
        gw.key.secret,
        {
          issuer: gw.config.ocid,
          from: { ocid: recipient, reference: o.orderId },
          to: { ocid: gw.config.ocid, reference: `user_${o.userId}` },
          amount: text,
          currency: o.currency,
          timestamp: now,
          memo: `refund of order ${o.orderId}`,
        },
        o.id,
      );
      id = await tx.refunds.insert({
        orderId: o.id,
        amount: text,
        minor,
        currency: o.currency,
        status: "succeeded",
        method: "direct",
        issuer: gw.config.ocid,
        txid: notice.txid,
        proofJson: JSON.stringify(notice.proof),
        signature: notice.signature,
        createdBy: actor,
        now,
      });
      await tx.deliveries.enqueue({ orderId: o.id, target: recipient, txid: notice.txid, body: notice.body, now });
      delivered = true;
    }
    await tx.audit.append(
      actor,
      "orders.refund",
      { orderId: o.id, refundId: id, amount: text, currency: o.currency },
      now,
    );
    const row = (await tx.refunds.byId(id))!;
    await emitRefund(gw, tx, row, o);
    return row;
  });
  if (delivered) gw.events.deliveryEnqueued();
  return { refund: refundJson(gw, refund) };
}

/** Who may send the proof completing a pending refund: the peer the order settled through, or its provider. */
async function refundIssuers(tx: Tx, orderId: number, via: number | null): Promise<number[]> {
  const job = await tx.jobs.byOrder(orderId);
  const provider = job ? (JSON.parse(job.stepData) as { provider?: number }).provider : undefined;
  return [via, provider].filter((x): x is number => typeof x === "number");
}

/**
 * Inside /transfer/webhook's transaction, for a proof to us: if it completes a pending refund (reference
 * `refund_<id>`, or the paying user's `user_<id>` with the refund's exact amount, from the order's peer), the user
 * is credited from that peer's external account and the refund succeeds. Null: not a refund, treat as a credit.
 */
export async function applyRefundProof(
  gw: Gateway,
  tx: Tx,
  proof: Proof,
  signature: string,
  now: number,
): Promise<{ status: "accepted"; txid: string } | null> {
  const amount = parseAmount(proof.amount, proof.currency, gw.currencies, gw.enabledCurrencies);
  if (!amount.ok) return null;
  const ref = proof.to.reference ?? "";
  const named = (await tx.refunds.pendingMatching(proof.currency, amount.minor)).filter(
    (r) => ref === `refund_${r.id}` || ref === `user_${r.userId}`,
  );
  const candidates = [];
  for (const r of named)
    if ((await refundIssuers(tx, r.orderId, r.settlementVia)).includes(proof.issuer)) candidates.push(r);
  candidates.sort((a, b) => Number(ref === `refund_${b.id}`) - Number(ref === `refund_${a.id}`));
  const r = candidates[0];
  if (!r) return null;
  await tx.ledger.move({
    from: externalAccount(proof.issuer),
    to: userAccount(r.userId),
    currency: proof.currency,
    amount: amount.minor,
    reason: ORDER_REFUND,
    orderId: r.orderId,
    ref: `${proof.issuer}|${proof.txid}`,
    now,
  });
  await tx.refunds.complete(r.id, proof.issuer, proof.txid, JSON.stringify(proof), signature, now);
  await emitRefund(gw, tx, (await tx.refunds.byId(r.id))!, (await tx.orders.byId(r.orderId))!);
  return { status: "accepted", txid: proof.txid };
}

/**
 * Inside /transfer/create's transaction: a merchant paying one of our users back for one of its paid orders
 * (`order.id` names it) is a refund of that order — capped like any other and recorded with the proof's txid.
 * Returns the ledger reason for the movement.
 */
export async function merchantTransferRefund(
  gw: Gateway,
  tx: Tx,
  callerOcid: number,
  orderId: string | undefined,
  userId: string,
  minor: bigint,
  amount: string,
  currency: string,
  txid: string,
  now: number,
): Promise<string | null> {
  if (!orderId) return null;
  const paidId = await tx.orderQueries.latestPaidOfMerchant(callerOcid, orderId);
  if (paidId === null) return null;
  const order = (await tx.orders.byId(paidId))!;
  if (order.userId !== userId)
    throw new ProtocolError(
      "INVALID_REQUEST",
      "order.id names a paid order of another user; refunds go to the user who paid",
      { fields: ["to.reference"] },
    );
  if (order.currency !== currency)
    throw new ProtocolError("INVALID_REQUEST", `order ${orderId} was paid in ${order.currency}`, {
      fields: ["currency"],
    });
  await checkCap(gw, tx, order, minor);
  const id = await tx.refunds.insert({
    orderId: order.id,
    amount,
    minor,
    currency,
    status: "succeeded",
    method: "merchant_transfer",
    issuer: gw.config.ocid,
    txid,
    createdBy: `peer:${callerOcid}`,
    now,
  });
  await emitRefund(gw, tx, (await tx.refunds.byId(id))!, order);
  return ORDER_REFUND;
}

async function emitRefund(gw: Gateway, tx: Tx, r: RefundRow, o: OrderRecord): Promise<void> {
  await emitEvent(
    gw,
    tx,
    r.status === "succeeded" ? "refund.succeeded" : "refund.pending",
    { refund: refundJson(gw, r), order: orderEventData(o, o.status) },
    o.id,
  );
}

/** What the user's history and the merchant's status URL show: refunds that went through, and each refund. */
/** In a read or transaction `tx`: the order's refunds for its status answer (§9.5), or null when there are none. */
export async function refundSummary(gw: Pick<Gateway, "currencies">, tx: Tx, o: Pick<OrderRecord, "id" | "currency">) {
  const rows = await tx.refunds.byOrder(o.id);
  if (rows.length === 0) return null;
  const { succeeded } = await tx.refunds.totals(o.id);
  return {
    refunded: formatMinor(succeeded, o.currency, gw.currencies),
    refunds: rows.map((r) => ({
      id: r.id,
      amount: formatMinor(r.amountMinor, r.currency, gw.currencies),
      status: r.status,
      txid: r.txid,
    })),
  };
}
