// §9.7 POST /transfer/create: a peer moves money out of its account at our gateway, to one of our users or to
// another peer. Idempotent on (caller, Idempotency-Key), recorded in the same transaction as the transfer.
import type { Gateway } from "../gateway";
import type { Caller } from "../http/auth";
import { ProtocolError } from "../protocol/errors";
import { amountOrThrow } from "./order-intake";
import { sha256Hex } from "../protocol/hash";
import type { TransferCreateRequest } from "../protocol/schemas";
import { InsufficientFunds, isBalanceOverflow, peerAccount, userAccount } from "../store/ledger";
import { issueProof } from "../settlement/proofs";
import type { ProtocolReply } from "../http/responses";
import { enforceUserMovement } from "./user-limits";
import { merchantTransferRefund } from "./refunds";
import type { User } from "../store/users";
import type { IdempotentReply } from "../store/idempotency";
import { IDEMPOTENCY_KEY_RE, IDEMPOTENCY_TTL } from "../protocol/idempotency";
import { inboundCreditMessage } from "../notify/p2p-messages";
import { emitEvent } from "../notify/operator-events";

const HTTP_OK = 200;
const USER_PREFIX = "user:";

class Replay extends Error {
  constructor(readonly reply: ProtocolReply) {
    super("replay");
  }
}

/** Our users are addressed as to.reference "user_<id>"; other peers by a registered OCID. */
const unknownRecipient = (ours: boolean) =>
  ours
    ? new ProtocolError(
        "ACCOUNT_NOT_FOUND",
        'Unknown recipient: to.reference must be "user_<id>" of one of our users',
        {
          reason: "unknown_user",
          field: "to",
        },
      )
    : new ProtocolError("ACCOUNT_NOT_FOUND", "Unknown recipient: to.ocid has no registered metadata", {
        reason: "unknown_ocid",
        field: "to",
      });

export async function transferCreate(
  gw: Gateway,
  caller: Caller,
  req: TransferCreateRequest,
  raw: Uint8Array,
  headers: Headers,
): Promise<ProtocolReply> {
  const { store, config } = gw;
  if (req.from.ocid !== caller.ocid) throw new ProtocolError("UNAUTHORIZED", "from.ocid must be the caller");
  if (req.to.ocid === req.from.ocid)
    throw new ProtocolError("INVALID_REQUEST", "to.ocid must differ from from.ocid", {
      reason: "self_transfer",
      fields: ["to.ocid"],
    });
  const amountMinor = amountOrThrow(gw, req.amount, req.currency);

  const idemKey = headers.get("idempotency-key");
  if (idemKey !== null && !IDEMPOTENCY_KEY_RE.test(idemKey))
    throw new ProtocolError("INVALID_REQUEST", "Malformed Idempotency-Key: 1–128 characters of A-Z a-z 0-9 . _ : -", {
      reason: "idempotency_key",
      fields: ["Idempotency-Key"],
    });
  const bodyHash = sha256Hex(raw);
  /** A stored answer for this key: replayed for the same body, refused for another. */
  const replayOf = (row: IdempotentReply): ProtocolReply => {
    if (row.bodyHash !== bodyHash)
      throw new ProtocolError("INVALID_STATE", "Idempotency-Key reused with another body", {
        reason: "idempotency_key_reused",
      });
    return { status: row.status, rawBody: row.response } satisfies ProtocolReply;
  };
  const from = peerAccount(caller.ocid);
  // One read for what is checked before the transaction: a stored answer, the caller's account, the recipient.
  const ours = req.to.ocid === config.ocid;
  const m = ours ? /^user_([a-z0-9]{1,32})$/.exec(req.to.reference ?? "") : null;
  const seen = await store.read(async (tx) => {
    const stored = idemKey === null ? null : await tx.idempotency.reply(caller.ocid, idemKey);
    if (stored && stored.createdAt + IDEMPOTENCY_TTL >= gw.clock()) return { stored };
    return {
      stored: null,
      hasAccount: await tx.ledger.hasAccount(from, req.currency),
      // Issue 17: a transfer to one of our users' own OCIDs credits that user (never a peer account, a webhook).
      user: ours ? (m ? await tx.users.byId(m[1]!) : null) : await tx.users.byOcid(req.to.ocid),
    };
  });
  if (seen.stored) return replayOf(seen.stored);
  const { hasAccount } = seen;
  if (!hasAccount)
    throw new ProtocolError(
      "ACCOUNT_NOT_FOUND",
      `Caller ${caller.ocid} has no ${req.currency} account here: it is credited when we owe you ${req.currency}`,
      { reason: "no_account", field: "from", currency: req.currency },
    );

  let to: string;
  let recipient: User | null = null;
  const endUser = ours ? null : seen.user;
  if (ours) {
    const user = seen.user;
    if (!user) throw unknownRecipient(req.to.ocid === config.ocid);
    to = userAccount(user.id);
    recipient = user;
  } else if (endUser) {
    to = userAccount(endUser.id);
    recipient = endUser;
  } else {
    try {
      await gw.directory.resolve(req.to.ocid);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID") throw unknownRecipient(req.to.ocid === config.ocid);
      throw e;
    }
    to = peerAccount(req.to.ocid);
    // The canonical request string names no recipient gateway, so a transfer signed for another gateway could be
    // replayed here inside the window. We execute only transfers whose recipient is ours: this gateway (one of our
    // users) or a peer whose books we keep in this currency (docs/protocol.md, "Security decisions").
    const peer = to;
    if (!(await store.read((tx) => tx.ledger.hasAccount(peer, req.currency))))
      throw new ProtocolError(
        "ACCOUNT_NOT_FOUND",
        `Recipient ${req.to.ocid} holds no ${req.currency} account here: /transfer/create moves money to this ` +
          "gateway's users or to peers whose account this gateway keeps; pay other recipients through their own " +
          "gateway",
        { reason: "recipient_not_here", field: "to" },
      );
  }

  const now = gw.clock();
  const userId = to.startsWith(USER_PREFIX) ? to.slice(USER_PREFIX.length) : null;
  try {
    const reply = await store.transaction(async (tx) => {
      // Claim-first: the key is this request's from here on, or it was answered (or is being answered) already.
      if (idemKey !== null && !(await tx.idempotency.claim(caller.ocid, idemKey, bodyHash, now, IDEMPOTENCY_TTL))) {
        const stored = await tx.idempotency.reply(caller.ocid, idemKey);
        throw new Replay(replayOf(stored!));
      }
      const reference = req.to.reference ?? req.order?.id;
      const proof = await issueProof(
        tx.proofs,
        gw.key.secret,
        {
          issuer: config.ocid,
          from: { ocid: caller.ocid, reference: req.from.reference },
          to: { ocid: req.to.ocid, reference },
          amount: req.amount,
          currency: req.currency,
          timestamp: now,
          memo: req.memo,
        },
        null,
        // Delivered to the recipient when that is someone else; else it only goes back to the caller.
        await tx.dialects.signingFor(req.to.ocid !== config.ocid ? req.to.ocid : caller.ocid),
      );
      // The proof is written first so the movement can reference its txid; a short balance rolls both back.
      // Issue 16: naming one of the caller's paid orders makes this a (capped) refund of it; otherwise a credit
      // within the user's limits.
      const refund =
        userId === null
          ? null
          : await merchantTransferRefund(
              gw,
              tx,
              caller.ocid,
              req.order?.id,
              userId,
              amountMinor,
              req.amount,
              req.currency,
              proof.txid,
              now,
            );
      if (userId !== null && !refund) await enforceUserMovement(gw, tx, userId, "credit", req.currency, amountMinor);
      const reason = refund ?? (userId !== null ? "transfer_in" : "transfer");
      const ref = `${caller.ocid}|${proof.txid}`;
      await tx.ledger.move({ from, to, currency: req.currency, amount: amountMinor, reason, now, ref });
      if (reason === "transfer_in")
        await emitEvent(gw, tx, "credit.received", {
          userId,
          currency: req.currency,
          amount: req.amount,
          source: "transfer",
          issuer: config.ocid,
          from: caller.ocid,
          txid: proof.txid,
        });
      if (!recipient)
        await tx.deliveries.enqueue({ orderId: null, target: req.to.ocid, txid: proof.txid, body: proof.body, now });
      if (idemKey !== null) await tx.idempotency.answer(caller.ocid, idemKey, HTTP_OK, proof.body);
      return { reply: { rawBody: proof.body } satisfies ProtocolReply, proof };
    });
    if (recipient)
      gw.hub.send(recipient.id, inboundCreditMessage(reply.proof.proof, "transfer", now), {
        credit: { issuer: config.ocid, txid: reply.proof.txid },
      });
    else gw.events.deliveryEnqueued();
    return reply.reply;
  } catch (e) {
    if (e instanceof Replay) return e.reply;
    if (e instanceof InsufficientFunds) throw new ProtocolError("INSUFFICIENT_FUNDS");
    if (isBalanceOverflow(e))
      throw new ProtocolError("INVALID_AMOUNT", "Amount exceeds the recipient's balance limit", {
        reason: "balance_limit",
      });
    throw e;
  }
}
