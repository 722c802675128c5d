// POST /app/transfer (issue 17): a user sends money to a person. Inside this gateway it is one transaction (a ledger
// pair user → user, our proof as the receipt); to a person at another gateway it is a debit into
// `settlement_in_flight` plus an outbox row, then a signed /transfer/create to that gateway (src/settlement/p2p-send).
// The sender's idempotency key never pays twice: the row is unique on (user, key) and written with the debit.
import { isUniqueViolation } from "../store/constraint";
import { t, type Static } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { sha256Hex } from "../protocol/hash";
import { randomHex } from "../protocol/hex";
import { formatMinor } from "../protocol/money";
import type { PeerMetadata } from "../protocol/schemas";
import { IN_FLIGHT, InsufficientFunds, isBalanceOverflow, userAccount } from "../store/ledger";
import type { P2pRow } from "../store/p2p-transfers";
import type { User } from "../store/users";
import { issueProof } from "../settlement/proofs";
import { amountOrThrow } from "./order-intake";
import { creditReceivedMessage, transferView } from "../notify/p2p-messages";
import { runOutboundTransfer } from "../settlement/p2p-send";
import { inlineOwner, LeaseLost, nodeIdOf, RunLease } from "../settlement/run-lease";
import { enforceUserMovement } from "./user-limits";
import type { Tx } from "../store";

export const TransferRequest = t.Object(
  {
    to: t.Union([
      t.String({ minLength: 1, maxLength: 128 }),
      t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    ]),
    amount: t.String({ minLength: 1, maxLength: 64 }),
    currency: t.String({ minLength: 1, maxLength: 8 }),
    memo: t.Optional(t.String({ maxLength: 512 })),
    idempotencyKey: t.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" }),
  },
  { additionalProperties: false },
);
export type TransferRequest = Static<typeof TransferRequest>;

export type Recipient =
  | { kind: "local"; user: User; label: string }
  | { kind: "remote"; ocid: number; via: number; name: string; label: string };

const notFound = (message: string) => new ProtocolError("ACCOUNT_NOT_FOUND", message, { field: "to" });

/** `user_<id>`, a handle (the user's name, "@" optional), or an OCID (a JSON number or a string of digits). */
export async function resolveRecipient(
  gw: Pick<Gateway, "config" | "directory" | "store">,
  to: string | number,
): Promise<Recipient> {
  if (typeof to === "string") {
    const text = to.trim();
    const byId = /^user_([a-z0-9]{1,32})$/.exec(text);
    if (byId) {
      const user = await gw.store.read((tx) => tx.users.byId(byId[1]!));
      if (!user) throw notFound(`No user ${text} at this gateway`);
      return { kind: "local", user, label: text };
    }
    const handle = text.replace(/^@/, "");
    const user = await gw.store.read((tx) => tx.users.byName(handle));
    if (user) return { kind: "local", user, label: handle };
    if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text)))
      throw notFound(`No user with the handle "${handle}": check the spelling, or send to an OCID`);
    to = Number(text);
  }
  return resolveOcid(gw, to);
}

async function resolveOcid(gw: Pick<Gateway, "config" | "directory" | "store">, ocid: number): Promise<Recipient> {
  if (ocid === gw.config.ocid) throw notFound("That is this gateway's own OCID: send to a person's handle or OCID");
  const local = await gw.store.read((tx) => tx.users.byOcid(ocid));
  if (local) return { kind: "local", user: local, label: String(ocid) };
  let meta: PeerMetadata;
  try {
    meta = await gw.directory.resolve(ocid);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID") throw notFound(`OCID ${ocid} is not in the directory`);
    throw e;
  }
  const via = meta.gateway;
  if (via === undefined) throw notFound(`OCID ${ocid} is not a person's OCID (its metadata names no gateway)`);
  if (via === gw.config.ocid) throw notFound(`OCID ${ocid} names this gateway, but no user here holds it`);
  let gateway: PeerMetadata;
  try {
    gateway = await gw.directory.resolve(via);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID")
      throw notFound(`OCID ${ocid} is held at gateway ${via}, which is not in the directory`);
    throw e;
  }
  // The person's document must come from that gateway: same key, same endpoint. Otherwise anyone could publish a
  // document naming a gateway and have us send money to an OCID that gateway never heard of.
  if (!sameBytes(meta.publicKey, gateway.publicKey) || meta.endpoint !== gateway.endpoint)
    throw notFound(`OCID ${ocid}'s metadata is not published by gateway ${via}`);
  return { kind: "remote", ocid, via, name: meta.name, label: String(ocid) };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

class Replay extends Error {
  constructor(readonly row: P2pRow) {
    super("replay");
  }
}

export type SendResult = {
  status: P2pRow["status"];
  txid?: string;
  transfer: Awaited<ReturnType<typeof transferView>>;
};

export async function sendMoney(gw: Gateway, sender: User, req: TransferRequest): Promise<SendResult> {
  const minor = amountOrThrow(gw, req.amount, req.currency);
  const amount = formatMinor(minor, req.currency, gw.currencies);
  const memo = req.memo === undefined || req.memo === "" ? null : req.memo;
  const requestHash = sha256Hex(JSON.stringify([String(req.to).trim(), amount, req.currency, memo]));
  const replayed = (row: P2pRow | undefined) => {
    if (!row) return null;
    if (row.requestHash !== requestHash)
      throw new ProtocolError("INVALID_STATE", "idempotencyKey was already used for another transfer: use a new key", {
        reason: "idempotency_key_reused",
      });
    return row;
  };
  const early = replayed((await gw.store.read((tx) => tx.p2p.byKey(sender.id, req.idempotencyKey))) ?? undefined);
  if (early) return result(gw, early);

  const recipient = await resolveRecipient(gw, req.to);
  if (recipient.kind === "local" && recipient.user.id === sender.id)
    throw new ProtocolError("INVALID_REQUEST", "You cannot send money to yourself", { fields: ["to"] });
  const now = gw.clock();
  const id = "p2p_" + randomHex(16);
  const inline = new RunLease("p2p_transfers", id, inlineOwner(nodeIdOf(gw.config)));
  try {
    const sent = await gw.store.transaction(async (tx) => {
      const again = replayed((await tx.p2p.byKey(sender.id, req.idempotencyKey)) ?? undefined);
      if (again) throw new Replay(again);
      const base = {
        id,
        userId: sender.id,
        idempotencyKey: req.idempotencyKey,
        requestHash,
        toLabel: recipient.label,
        amount,
        amountMinor: Number(minor),
        currency: req.currency,
        memo,
        nextAttemptAt: now,
        deadline: now + gw.config.settlementDeadline,
        createdAt: now,
      };
      // Issue 16: a frozen sender or recipient moves nothing, and no limit in force may be broken.
      await enforceUserMovement(gw, tx, sender.id, "payment", req.currency, minor);
      if (recipient.kind === "local") {
        await enforceUserMovement(gw, tx, recipient.user.id, "credit", req.currency, minor);
        const proof = await issueProof(
          tx.proofs,
          gw.key.secret,
          {
            issuer: gw.config.ocid,
            from: { ocid: gw.config.ocid, reference: `user_${sender.id}` },
            to: { ocid: recipient.user.ocid ?? gw.config.ocid, reference: `user_${recipient.user.id}` },
            amount,
            currency: req.currency,
            timestamp: now,
            memo: memo ?? undefined,
          },
          null,
        );
        await tx.ledger.move({
          from: userAccount(sender.id),
          to: userAccount(recipient.user.id),
          currency: req.currency,
          amount: minor,
          reason: "p2p_transfer",
          ref: id,
          now,
        });
        await tx.p2p.insert({
          ...base,
          kind: "internal",
          toUserId: recipient.user.id,
          toOcid: recipient.user.ocid ?? null,
          via: null,
          status: "paid",
          state: "done",
          requestBody: null,
          txid: proof.txid,
          leaseOwner: null,
          leaseUntil: null,
        });
      } else {
        await tx.ledger.move({
          from: userAccount(sender.id),
          to: IN_FLIGHT,
          currency: req.currency,
          amount: minor,
          reason: "p2p_send",
          ref: id,
          now,
        });
        // Serialised once: every retry sends these bytes under the same Idempotency-Key (§9.7 compares body hashes).
        const body: Record<string, unknown> = {
          from: { ocid: gw.config.ocid, reference: sender.ocid ? String(sender.ocid) : `user_${sender.id}` },
          // Our transfer id as the reference: the recipient gateway's proof then names this very transfer.
          to: { ocid: recipient.ocid, reference: id },
          amount,
          currency: req.currency,
        };
        if (memo !== null) body.memo = memo;
        await tx.p2p.insert({
          ...base,
          kind: "outbound",
          toUserId: null,
          toOcid: recipient.ocid,
          via: recipient.via,
          status: "pending",
          state: "pending",
          requestBody: JSON.stringify(body),
          txid: null,
          // Leased to this request, which makes the first attempt itself; the scheduler takes over after a crash.
          leaseOwner: inline.owner,
          leaseUntil: now + gw.config.scheduler.jobLeaseSeconds,
        });
      }
      const row = (await tx.p2p.byId(id))!;
      // The internal transfer's answer and the recipient's message are built from the row as committed.
      if (row.kind !== "internal") return { row, credit: null, answer: null };
      return { row, credit: await creditReceivedMessage(tx, row), answer: await resultIn(gw, tx, row) };
    });
    if (sent.credit && sent.answer) {
      gw.hub.send(sent.row.toUserId, sent.credit, { transfer: sent.row.id });
      return sent.answer;
    }
    // A first attempt that outlived its lease (another node's scheduler took the row) stops: the row's state answers.
    await runOutboundTransfer(gw, sent.row, inline).catch((e) => {
      if (!(e instanceof LeaseLost)) throw e;
    });
    return result(gw, (await gw.store.read((tx) => tx.p2p.byId(id)))!);
  } catch (e) {
    if (e instanceof Replay) return result(gw, e.row);
    // A concurrent request with the same key committed first (an engine with concurrent writers gets here; the
    // unique key rolled this one back whole): the same answer as a retry.
    if (isUniqueViolation(e, "p2p_transfers", ["user_id", "idempotency_key"])) {
      const first = replayed((await gw.store.read((tx) => tx.p2p.byKey(sender.id, req.idempotencyKey))) ?? undefined);
      if (first) return result(gw, first);
    }
    if (e instanceof InsufficientFunds)
      throw new ProtocolError("INSUFFICIENT_FUNDS", `Your ${req.currency} balance is below ${amount}`);
    if (isBalanceOverflow(e))
      throw new ProtocolError("INVALID_AMOUNT", "Amount exceeds the recipient's balance limit", {
        reason: "balance_limit",
      });
    throw e;
  }
}

async function resultIn(gw: Gateway, tx: Pick<Tx, "users">, row: P2pRow): Promise<SendResult> {
  const out: SendResult = { status: row.status, transfer: await transferView(gw, tx, row) };
  if (row.txid) out.txid = row.txid;
  return out;
}

const result = (gw: Gateway, row: P2pRow): Promise<SendResult> => gw.store.read((tx) => resultIn(gw, tx, row));
