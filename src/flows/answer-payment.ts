// §10.2 / §12.3: the user's answer to a payment request — confirm (one transaction: claim, debit, outbox job) or
// decline. Both are idempotent and shared by the HTTP endpoints and the WebSocket.
import type { AnswerResponse } from "../app/schemas";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import type { SessionRow } from "../store/sessions";
import type { Tx } from "../store";
import { sessionStatus } from "../store/sessions";
import type { OrderRecord } from "../store/orders";
import { InsufficientFunds, IN_FLIGHT, isBalanceOverflow, userAccount } from "../store/ledger";
import type { Candidate } from "../settlement/candidates";
import { paymentUpdateMessage } from "../notify/messages";
import { enforceUserMovement } from "./user-limits";

export type AnswerResult = AnswerResponse;

/**
 * Session lookup, inside a read or transaction `tx`, with the §10.2 visibility rules: a qr session is its user's; a
 * checkout session is anyone's until confirmed.
 */
export async function sessionOfUser(tx: Tx, user: User, sessionId: string): Promise<SessionRow> {
  const s = await tx.sessions.get(sessionId);
  if (!s) throw new ProtocolError("SESSION_NOT_FOUND");
  if (s.userId !== null && s.userId !== user.id) throw new ProtocolError("UNAUTHORIZED", "Not your session");
  if (s.kind === "qr" && s.userId === null) throw new ProtocolError("UNAUTHORIZED", "Not your session");
  return s;
}

/** What a confirm or decline answers, in one read: the user's session (visibility as above) and its order, if any. */
function answerTarget(store: Pick<Gateway, "store">["store"], user: User, sessionId: string) {
  return store.read(async (tx) => ({
    session: await sessionOfUser(tx, user, sessionId),
    found: await tx.orders.bySession(sessionId),
  }));
}

/**
 * Lazily applies the confirmation deadline (§11.1) before any read or action; pushes the update. No store access
 * unless `o` is due; then one transaction expires it and reads it back.
 */
export async function expireIfDue(gw: Pick<Gateway, "clock" | "hub" | "store">, o: OrderRecord): Promise<OrderRecord> {
  const now = gw.clock();
  if (o.status !== "awaiting_confirmation" || o.confirmDeadline >= now) return o;
  const { expired, current } = await gw.store.transaction(async (tx) => {
    const expired = await tx.orders.move(o.id, { event: "expire" }, now);
    return { expired, current: (await tx.orders.byId(o.id))! };
  });
  if (expired) gw.hub.send(o.userId, paymentUpdateMessage({ ...o, status: "expired" }));
  return current;
}

/** §9.6 spells the return URLs success/cancel, §9.4 completed/cancelled: a checkout may use either (issue 19). */
const URL_SPELLINGS = { success: ["success", "completed"], cancel: ["cancel", "cancelled"] } as const;

export function redirectFor(o: OrderRecord, key: "success" | "cancel"): string | undefined {
  const urls = JSON.parse(o.urlsJson) as Record<string, unknown>;
  for (const k of URL_SPELLINGS[key]) if (typeof urls[k] === "string") return urls[k] as string;
  return undefined;
}

function invalidState(status: string): ProtocolError {
  return new ProtocolError("INVALID_STATE", `Not allowed while ${status}`, { status });
}

export async function confirmPayment(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "events" | "hub" | "store" | "tiers">,
  user: User,
  sessionId: string,
): Promise<AnswerResult> {
  const { store } = gw;
  const { session, found } = await answerTarget(store, user, sessionId);
  if (!found) throw invalidState(sessionStatus(session, gw.clock()));
  const order = await expireIfDue(gw, found);
  const now = gw.clock();
  let confirmed: boolean;
  try {
    confirmed = await store.transaction(async (tx) => {
      if (!(await tx.orders.move(order.id, { event: "confirm", userId: user.id }, now))) return false;
      if (session.kind === "checkout") await tx.sessions.bindUser(sessionId, user.id);
      await enforceUserMovement(gw, tx, user.id, "payment", order.currency, order.amountMinor);
      await tx.ledger.move({
        from: userAccount(user.id),
        to: IN_FLIGHT,
        currency: order.currency,
        amount: order.amountMinor,
        reason: "confirm",
        orderId: order.id,
        now,
      });
      const candidates = JSON.parse(order.candidatesJson) as Candidate[];
      await tx.jobs.enqueueSettlement(order.id, candidates, now, now + gw.config.settlementDeadline);
      return true;
    });
  } catch (e) {
    if (e instanceof InsufficientFunds) throw new ProtocolError("INSUFFICIENT_FUNDS");
    // The money in flight would leave the 64-bit balance range: refused whole (nothing was debited).
    if (isBalanceOverflow(e))
      throw new ProtocolError(
        "INVALID_AMOUNT",
        "This payment exceeds the gateway's balance limit for the currency; it was not taken. Try again once pending " +
          "payments have settled",
        { reason: "balance_limit" },
      );
    throw e;
  }
  const redirect = session.kind === "checkout" ? redirectFor(order, "success") : undefined;
  if (confirmed) {
    gw.hub.send(user.id, paymentUpdateMessage({ ...order, status: "confirmed" }));
    gw.events.settlementEnqueued();
    return redirect ? { status: "confirmed", redirect } : { status: "confirmed" };
  }
  // Lost the conditional update: answer from the current state, never a second debit.
  const current = await expireIfDue(gw, (await store.read((tx) => tx.orders.byId(order.id)))!);
  if (current.userId === user.id && ["confirmed", "paid", "in_review"].includes(current.status)) {
    const out: AnswerResult = { status: current.status };
    if (current.finalTxid) out.txid = current.finalTxid;
    if (redirect) out.redirect = redirect;
    return out;
  }
  throw invalidState(current.status);
}

export async function declinePayment(
  gw: Pick<Gateway, "clock" | "hub" | "store">,
  user: User,
  sessionId: string,
): Promise<AnswerResult> {
  const { store } = gw;
  const { session, found } = await answerTarget(store, user, sessionId);
  if (!found) {
    const st = sessionStatus(session, gw.clock());
    // A pending pay code (qr) or an inventory the user has not ordered from yet (scan) is simply closed.
    const cancellable = session.kind !== "checkout" && st === "pending";
    if (cancellable && (await store.transaction((tx) => tx.sessions.cancel(sessionId, user.id))))
      return { status: "cancelled" };
    if ((await store.read((tx) => tx.sessions.get(sessionId)))!.status === "cancelled") return { status: "cancelled" };
    throw invalidState(st);
  }
  const order = await expireIfDue(gw, found);
  const redirect = session.kind === "checkout" ? redirectFor(order, "cancel") : undefined;
  const now = gw.clock();
  const declined = await store.transaction(async (tx) => {
    if (!(await tx.orders.move(order.id, { event: "decline", userId: user.id }, now))) return false;
    if (session.kind === "checkout") await tx.sessions.bindUser(sessionId, user.id);
    return true;
  });
  if (declined) gw.hub.send(user.id, paymentUpdateMessage({ ...order, status: "declined" }));
  const current = declined
    ? { ...order, status: "declined" as const, userId: user.id }
    : (await store.read((tx) => tx.orders.byId(order.id)))!;
  if (current.status === "declined" && current.userId === user.id)
    return redirect ? { status: "declined", redirect } : { status: "declined" };
  throw invalidState(current.status);
}

/** The 10 s sweeper of §11.1: expire every order whose confirmation window closed, then tell its user. */
export async function expireDueOrders(gw: Pick<Gateway, "clock" | "hub" | "store">): Promise<number> {
  const now = gw.clock();
  const expired = await gw.store.transaction((tx) => tx.orders.expireDue(now));
  for (const o of expired) gw.hub.send(o.userId, { type: "payment_update", sessionId: o.sessionId, status: "expired" });
  return expired.length;
}
