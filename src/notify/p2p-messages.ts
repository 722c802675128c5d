// What the wallet sees of person-to-person money: the transfer view (API answers, history) and the live
// `credit_received` push to a recipient's open sockets (§10.3 style: rebuildable from the database).
import type { Gateway } from "../gateway";
import type { P2pRow } from "../store/p2p-transfers";
import type * as S from "../app/schemas";
import type { Tx } from "../store";
import type { User } from "../store/users";

export type Party = { ocid?: number; name?: string; userId?: string; reference?: string; gateway?: number };

export type CreditReceived = {
  type: "credit_received";
  kind: "transfer" | "topup" | "credit";
  amount: string;
  currency: string;
  from: Party;
  txid?: string;
  memo?: string;
  at: number;
};

/** The other party of a transfer, as its sender sees it (`to`: the recipient user of an internal one). */
function recipientParty(gw: Pick<Gateway, "directory">, row: P2pRow, to: User | null): Party {
  if (row.kind === "internal") {
    const u = to;
    const p: Party = { userId: row.toUserId ?? undefined, name: u?.name };
    if (row.toOcid) p.ocid = row.toOcid;
    return p;
  }
  const meta = row.toOcid ? gw.directory.peek(row.toOcid) : undefined;
  const p: Party = { ocid: row.toOcid ?? undefined, gateway: row.via ?? undefined };
  if (meta?.name) p.name = meta.name;
  return p;
}

function senderParty(row: P2pRow, u: User | null): Party {
  const p: Party = { userId: row.userId, name: u?.name };
  if (u?.ocid) p.ocid = u.ocid;
  return p;
}

type UsersTx = Pick<Tx, "users">;

/** The parties of a transfer (history), read in the caller's read or transaction `tx`. */
export async function recipientIn(gw: Pick<Gateway, "directory">, tx: UsersTx, row: P2pRow): Promise<Party> {
  return recipientParty(gw, row, row.kind === "internal" && row.toUserId ? await tx.users.byId(row.toUserId) : null);
}
export async function senderIn(tx: UsersTx, row: P2pRow): Promise<Party> {
  return senderParty(row, await tx.users.byId(row.userId));
}

export async function transferView(gw: Pick<Gateway, "directory">, tx: UsersTx, row: P2pRow): Promise<S.TransferView> {
  const to = row.kind === "internal" && row.toUserId ? await tx.users.byId(row.toUserId) : null;
  const v: S.TransferView = {
    id: row.id,
    status: row.status,
    to: recipientParty(gw, row, to),
    amount: row.amount,
    currency: row.currency,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
  if (row.memo) v.memo = row.memo;
  if (row.txid) v.txid = row.txid;
  if (row.state === "in_review") v.inReview = true;
  return v;
}

/** For an internal transfer's recipient. */
export async function creditReceivedMessage(tx: UsersTx, row: P2pRow): Promise<CreditReceived> {
  const m: CreditReceived = {
    type: "credit_received",
    kind: "transfer",
    amount: row.amount,
    currency: row.currency,
    from: senderParty(row, await tx.users.byId(row.userId)),
    at: row.createdAt,
  };
  if (row.txid) m.txid = row.txid;
  if (row.memo) m.memo = row.memo;
  return m;
}

export async function transferUpdateMessage(
  gw: Pick<Gateway, "directory">,
  tx: UsersTx,
  row: P2pRow,
): Promise<S.WsTransferUpdate> {
  return { type: "transfer_update", transfer: await transferView(gw, tx, row) };
}

/** A credit that arrived from another party (inbound /transfer/create, /transfer/webhook, a top-up), from its proof. */
export function inboundCreditMessage(
  proof: Record<string, unknown>,
  kind: CreditReceived["kind"],
  at: number,
): CreditReceived {
  const p = proof as {
    txid: string;
    issuer: number;
    from?: { ocid?: number; reference?: string };
    amount: string;
    currency: string;
    memo?: string;
  };
  // The gateway the money came from: the caller of our /transfer/create (its from.ocid), else the proof's issuer.
  const from: Party = { gateway: kind === "transfer" ? (p.from?.ocid ?? p.issuer) : p.issuer };
  if (p.from?.ocid !== undefined) from.ocid = p.from.ocid;
  if (p.from?.reference !== undefined) from.reference = p.from.reference;
  const m: CreditReceived = {
    type: "credit_received",
    kind,
    amount: p.amount,
    currency: p.currency,
    from,
    txid: p.txid,
    at,
  };
  if (p.memo) m.memo = p.memo;
  return m;
}
