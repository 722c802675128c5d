// What a user's sockets should see now, read from the database: the one answer that a WebSocket open replays
// (src/routes/ws.ts), that a submit pushes as its prompt (src/flows/submit-order.ts) and that a node pushes when
// it hears from another node that one of its users changed (./relay.ts). Every message here can be rebuilt
// at any time, so a push that was missed (no socket open, a node not listening) is never lost for good.
import type { Gateway } from "../gateway";
import type { Tx } from "../store";
import type { OrderRecord } from "../store/orders";
import type { Change } from "../app/bus";
import type { PaymentRequest, ServerMessage } from "../app/hub";
import { INITIAL_ORDER_STATUS } from "../domain/order-lifecycle";
import { merchantViewIn, paymentRequestOf, paymentUpdateMessage } from "./messages";
import { creditReceivedMessage, inboundCreditMessage, transferUpdateMessage } from "./p2p-messages";
import { creditKindOf } from "../domain/credit-kind";

type FeedDeps = Pick<Gateway, "directory"> & { config: Pick<Gateway["config"], "ocid"> };

/** The prompt for `o` as stored, its merchant as the prompt showed it at intake. */
export async function promptIn(gw: FeedDeps, tx: Tx, o: OrderRecord): Promise<PaymentRequest> {
  return paymentRequestOf(o, await merchantViewIn(gw, tx, o.merchantOcid, o.id));
}

/** Every prompt still awaiting the user's answer, oldest first: what a socket gets when it opens. */
export async function awaitingPrompts(gw: FeedDeps, tx: Tx, userId: string, now: number): Promise<PaymentRequest[]> {
  const out: PaymentRequest[] = [];
  for (const o of await tx.orders.awaitingForUser(userId, now)) out.push(await promptIn(gw, tx, o));
  return out;
}

/** One session as its user should see it now: its prompt while it awaits an answer, else its status. */
async function sessionNow(
  gw: FeedDeps,
  tx: Tx,
  userId: string,
  sessionId: string,
  now: number,
): Promise<ServerMessage | null> {
  const o = await tx.orders.bySession(sessionId);
  if (!o || o.userId !== userId) return null;
  if (o.status !== INITIAL_ORDER_STATUS) return paymentUpdateMessage(o);
  // Past its deadline but not yet swept: the sweep's expiry is the next change the user hears of.
  return o.confirmDeadline >= now ? promptIn(gw, tx, o) : null;
}

/** One transfer as the user sees it: its sender's update, or an internal transfer's credit to its recipient. */
async function transferNow(gw: FeedDeps, tx: Tx, userId: string, transferId: string): Promise<ServerMessage | null> {
  const row = await tx.p2p.byId(transferId);
  if (!row) return null;
  if (row.userId === userId) return transferUpdateMessage(gw, tx, row);
  return row.kind === "internal" && row.toUserId === userId ? creditReceivedMessage(tx, row) : null;
}

/**
 * A credit from another gateway as its recipient hears of it, from the proof that booked it: one we issued for a
 * transfer to our user (/transfer/create), else one we received (a credit or a top-up). `at`: when it is heard.
 */
async function creditNow(gw: FeedDeps, tx: Tx, credit: NonNullable<Change["credit"]>, now: number) {
  if (credit.issuer === gw.config.ocid) {
    const issued = await tx.history.issuedProof(credit.txid);
    return issued ? inboundCreditMessage(JSON.parse(issued), "transfer", now) : null;
  }
  const received = await tx.history.receivedProof(credit.issuer, credit.txid);
  if (!received) return null;
  const proof = JSON.parse(received);
  return inboundCreditMessage(proof, creditKindOf(proof.to, gw.config.ocid), now);
}

/** What `change` means for its user's sockets now: that session's, transfer's or credit's message, else all. */
export async function feedOf(gw: FeedDeps, tx: Tx, change: Change, now: number): Promise<ServerMessage[]> {
  const { user, session, transfer, credit } = change;
  let m: ServerMessage | null;
  if (session !== undefined) m = await sessionNow(gw, tx, user, session, now);
  else if (transfer !== undefined) m = await transferNow(gw, tx, user, transfer);
  else if (credit !== undefined) m = await creditNow(gw, tx, credit, now);
  else return awaitingPrompts(gw, tx, user, now);
  return m ? [m] : [];
}
