// What the wallet sees of person-to-person money: the transfer view (API answers, history) and the live
// `credit_received` push to a recipient's open sockets (§10.3 style: rebuildable from the database).
import type { Gateway } from "../gateway";
import type { P2pRow } from "../store/p2p-transfers";
import type * as S from "../app/schemas";

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

/** The other party of a transfer, as its sender sees it. */
export function recipientOf(gw: Pick<Gateway, "directory" | "store">, row: P2pRow): Party {
  if (row.kind === "internal") {
    const u = row.to_user_id ? gw.store.users.byId(row.to_user_id) : null;
    const p: Party = { userId: row.to_user_id ?? undefined, name: u?.name };
    if (row.to_ocid) p.ocid = row.to_ocid;
    return p;
  }
  const meta = row.to_ocid ? gw.directory.peek(row.to_ocid) : undefined;
  const p: Party = { ocid: row.to_ocid ?? undefined, gateway: row.via ?? undefined };
  if (meta?.name) p.name = meta.name;
  return p;
}

export function senderOf(gw: Pick<Gateway, "store">, row: P2pRow): Party {
  const u = gw.store.users.byId(row.user_id);
  const p: Party = { userId: row.user_id, name: u?.name };
  if (u?.ocid) p.ocid = u.ocid;
  return p;
}

export function transferView(gw: Gateway, row: P2pRow): S.TransferView {
  const v: S.TransferView = {
    id: row.id,
    status: row.status,
    to: recipientOf(gw, row),
    amount: row.amount,
    currency: row.currency,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.memo) v.memo = row.memo;
  if (row.txid) v.txid = row.txid;
  if (row.state === "in_review") v.inReview = true;
  return v;
}

/** For an internal transfer's recipient. */
export function creditReceivedMessage(gw: Gateway, row: P2pRow): CreditReceived {
  const m: CreditReceived = {
    type: "credit_received",
    kind: "transfer",
    amount: row.amount,
    currency: row.currency,
    from: senderOf(gw, row),
    at: row.created_at,
  };
  if (row.txid) m.txid = row.txid;
  if (row.memo) m.memo = row.memo;
  return m;
}

export function transferUpdateMessage(gw: Gateway, row: P2pRow): S.WsTransferUpdate {
  return { type: "transfer_update", transfer: transferView(gw, row) };
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
