// §9.4 Submit Order to Session, steps 3–13, in the SPEC's exact order. Authentication and the body schema
// (steps 1–2) happened in the protocol route wrapper.
import type { Gateway } from "../gateway";
import type { Caller } from "../http/auth";
import { ProtocolError } from "../protocol/errors";
import type { SubmitOrderRequest } from "../protocol/schemas";
import { SESSION_ID_RE } from "../store/sessions";
import { amountOrThrow, orderNotExpiredOrThrow, storeOrder, verifyOrderOrThrow } from "./order-intake";
import { selectCandidates } from "../settlement/candidates";
import { promptIn } from "../notify/user-feed";
import type { Tx } from "../store";
import type { Prechecked } from "../verify-pool";

/** Nothing in `accepts` can settle with us: say what would (our OCID, the peers we trust, our currencies). */
export function noPath(gw: Pick<Gateway, "config" | "metadata">, accepts: number[], currency: string): ProtocolError {
  const ours = gw.metadata.config.settlement;
  const weAccept = [gw.config.ocid, ...ours.accepts.filter((o) => o !== gw.config.ocid)].join(", ");
  return new ProtocolError(
    "SETTLEMENT_NOT_SUPPORTED",
    `Cannot settle with merchant: none of order.accepts [${accepts.join(", ")}] settles ${currency} with us; ` +
      `we accept ${weAccept} in ${ours.currencies.join(", ")}`,
    {
      reason: "no_path",
      accepts,
      currency,
      acceptedOcids: [gw.config.ocid, ...ours.accepts.filter((o) => o !== gw.config.ocid)],
      currencies: ours.currencies,
    },
  );
}

export function statusUrl(endpoint: string, orderId: string): string {
  return `${endpoint}/orders/${encodeURIComponent(orderId)}/status`;
}

/** §9.4's success body (the route signs its exact text ahead: see protocolRoute's `expect`). */
export const submitted = (endpoint: string, orderId: string) => ({ urls: { status: statusUrl(endpoint, orderId) } });

const sessionExpired = (expiresAt: number, now: number) =>
  new ProtocolError(
    "SESSION_EXPIRED",
    `Session expired at ${expiresAt}; our time is ${now}: ask the payer for a new code`,
    {
      reason: "expired",
      expiresAt,
      serverTime: now,
    },
  );

/**
 * SESSION_USED for both (§15 has one code). A used session keeps the SPEC's exact body (its response-signature
 * vector signs those bytes); a cancelled one says so in details.reason.
 */
function sessionClosed(status: string): ProtocolError {
  return status === "cancelled"
    ? new ProtocolError("SESSION_USED", "Session was cancelled by the payer: ask for a new code", {
        reason: "cancelled",
      })
    : new ProtocolError("SESSION_USED");
}

/**
 * `recordNonce` runs first inside the claiming transaction, so the hot path pays one fsync (see protocolRoute).
 * Nothing after the commit may throw: the wrapper reads an exception as "the transaction did not commit".
 */
export async function submitOrderToSession(
  gw: Gateway,
  caller: Caller,
  sessionId: string,
  req: SubmitOrderRequest,
  recordNonce: (tx: Tx) => Promise<void> = async () => {},
  known?: Prechecked,
) {
  const { store, clock, config } = gw;
  const now = clock();
  const session = SESSION_ID_RE.test(sessionId) ? await store.read((tx) => tx.sessions.get(sessionId)) : null;
  // Only a user's pay code takes merchant submissions; a scan session's order comes from the merchant we called.
  if (!session || session.kind === "scan") throw new ProtocolError("SESSION_NOT_FOUND");
  if (session.expiresAt < now) throw sessionExpired(session.expiresAt, now);
  if (session.status !== "pending") throw sessionClosed(session.status);

  const order = req.order;
  if (order.ocid !== caller.ocid) throw new ProtocolError("UNAUTHORIZED", "Order does not belong to the caller");
  const sigForm = await verifyOrderOrThrow(gw, order, req.signature, caller.metadata.publicKey, known);
  orderNotExpiredOrThrow(order, now);
  const amountMinor = amountOrThrow(gw, order.amount, order.currency);
  const candidates = await selectCandidates(config, gw.directory, order.accepts ?? [], order.currency);
  if (candidates.length === 0) throw noPath(gw, order.accepts ?? [], order.currency);

  // Time may have passed during metadata fetches: the claim re-checks expiry with a fresh `now`.
  const at = clock();
  const prompt = await store.transaction(async (tx) => {
    await recordNonce(tx);
    if (!(await tx.sessions.claim(sessionId, at))) {
      const s = (await tx.sessions.get(sessionId))!;
      throw s.status === "pending" ? sessionExpired(s.expiresAt, at) : sessionClosed(s.status);
    }
    const orderRowId = await storeOrder(
      tx,
      order,
      { signature: req.signature, sigForm, urls: req.urls, amountMinor, merchant: caller.metadata },
      {
        sessionId,
        callerOcid: caller.ocid,
        userId: session.userId,
        confirmDeadline: Math.min(order.expiresAt ?? Number.MAX_SAFE_INTEGER, at + config.confirmWindow),
        candidates,
        now: at,
      },
    );
    // The prompt for a payer online on this node, built from the rows as stored (pushed after the commit).
    if (!gw.hub.isOnline(session.userId)) return null;
    return promptIn(gw, tx, (await tx.orders.byId(orderRowId))!);
  });

  try {
    // Other nodes hear of the session either way and read the prompt themselves when they hold the payer's sockets.
    if (prompt) gw.hub.send(session.userId, prompt);
    else if (session.userId) gw.hub.tellOthers({ user: session.userId, session: sessionId });
  } catch (e) {
    gw.log.error("payment_request push failed (the user gets it on reconnect)", { error: String(e) });
  }
  return submitted(config.endpoint, order.id);
}
