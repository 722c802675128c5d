// §10.2 session view and history: what the wallet app shows, read from the database.
import type { Gateway } from "../gateway";
import type { SessionRow } from "../store/sessions";
import { sessionStatus } from "../store/sessions";
import { expireIfDue } from "./answer-payment";
import { merchantViewIn, merchantViewOf } from "../notify/messages";
import { formatMinor } from "../protocol/money";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import { userAccount } from "../store/ledger";
import { recipientIn, senderIn, type Party } from "../notify/p2p-messages";
import type { Tx } from "../store";

/**
 * A session as the wallet shows it, read in one go: `find` reads the session in the same read (and throws when the
 * caller may not see it), then its order, scan and merchant.
 */
export async function sessionView(
  gw: Pick<Gateway, "clock" | "directory" | "hub" | "store">,
  find: (tx: Tx) => Promise<SessionRow>,
) {
  const now = gw.clock();
  const { s, ...seen } = await gw.store.read(async (tx) => {
    const s = await find(tx);
    const found = await tx.orders.bySession(s.id);
    const scan = s.kind === "scan" ? await tx.scans.get(s.id) : null;
    return { s, found, scan, merchant: found ? await merchantViewIn(gw, tx, found.merchantOcid, found.id) : null };
  });
  const o = seen.found ? await expireIfDue(gw, seen.found) : null;
  const view: Record<string, unknown> = {
    sessionId: s.id,
    kind: s.kind,
    sessionStatus: sessionStatus(s, now),
    expiresAt: s.expiresAt,
    order: o ? JSON.parse(o.orderJson) : null,
    merchant: seen.merchant,
    status: o?.status ?? null,
    confirmBy: o && o.status === "awaiting_confirmation" ? o.confirmDeadline : null,
  };
  if (s.kind === "scan") {
    // Issue 13: what was scanned; an inventory session shows its items until the user orders.
    const sc = seen.scan;
    if (sc) {
      view.scan =
        sc.kind === "inventory" && sc.inventoryJson
          ? { kind: sc.kind, inventory: JSON.parse(sc.inventoryJson) }
          : { kind: sc.kind };
      view.merchant ??= merchantViewOf(gw, sc.merchantOcid, null);
    }
  }
  if (o?.finalTxid) view.txid = o.finalTxid;
  if (o) view.urls = JSON.parse(o.urlsJson);
  return view;
}

/** A history key: 11 digits of time, 1 of kind, 15 of id (src/store/history.ts). */
const CURSOR_LENGTH = 27;
const CURSOR_RE = new RegExp(`^[0-9]{${CURSOR_LENGTH}}$`);
const HISTORY_PAGE_DEFAULT = 20;
const HISTORY_PAGE_MAX = 100;
/** Statuses in which the user's money has left the balance (declined, expired, waiting and refunded: not charged). */
const CHARGED = new Set(["confirmed", "paid", "in_review"]);

/** Payments and credits, newest first, with an opaque cursor (§10.2 history); one read for the page. */
export async function history(
  gw: Pick<Gateway, "currencies" | "directory" | "store">,
  user: User,
  limitParam: string | undefined,
  beforeParam: string | undefined,
) {
  const limit = limitParam === undefined ? HISTORY_PAGE_DEFAULT : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_PAGE_MAX)
    throw new ProtocolError("INVALID_REQUEST", `limit must be an integer from 1 to ${HISTORY_PAGE_MAX}`, {
      reason: "limit",
      fields: ["limit"],
      min: 1,
      max: HISTORY_PAGE_MAX,
    });
  if (beforeParam !== undefined && !CURSOR_RE.test(beforeParam))
    throw new ProtocolError("INVALID_REQUEST", "before must be a nextBefore value from an earlier page", {
      reason: "cursor",
      fields: ["before"],
    });
  const before = beforeParam ?? "9".repeat(CURSOR_LENGTH);
  return gw.store.read(async (tx) => {
    const rows = await tx.history.page(user.id, userAccount(user.id), before, limit + 1);
    const items: unknown[] = [];
    for (const r of rows.slice(0, limit)) items.push(await historyItem(gw, tx, r));
    const out: { items: unknown[]; nextBefore?: string } = { items };
    if (rows.length > limit) out.nextBefore = rows[limit - 1]!.key;
    return out;
  });
}

type HistoryRow = Awaited<ReturnType<Tx["history"]["page"]>>[number];

async function historyItem(gw: Pick<Gateway, "currencies" | "directory">, tx: Tx, r: HistoryRow) {
  if (r.kind === "payment") {
    const { icon: _icon, ...merchant } = await merchantViewIn(gw, tx, r.merchantOcid!, r.id);
    const item: Record<string, unknown> = {
      kind: "payment",
      sessionId: r.sessionId,
      orderId: r.orderId,
      merchant,
      amount: r.amount,
      currency: r.currency,
      status: r.status,
      charged: CHARGED.has(r.status!),
      receivedAt: r.at,
      updatedAt: r.updatedAt,
    };
    if (r.txid) item.txid = r.txid;
    if (r.refunded !== null) item.refunded = formatMinor(r.refunded, r.currency, gw.currencies);
    return item;
  }
  if (r.kind === "sent" || r.kind === "received") {
    const row = (await tx.p2p.byId(r.ref!))!;
    const item: Record<string, unknown> = {
      kind: r.kind,
      amount: row.amount,
      currency: row.currency,
      status: row.status,
      at: row.createdAt,
    };
    if (r.kind === "sent") item.to = await recipientIn(gw, tx, row);
    else item.from = await senderIn(tx, row);
    item.transferId = row.id;
    if (row.txid) item.txid = row.txid;
    if (row.memo) item.memo = row.memo;
    return item;
  }
  const [issuer, txid] = (r.ref ?? "").split("|");
  const item: Record<string, unknown> = {
    kind: r.reason === "topup" ? "topup" : "credit",
    amount: formatMinor(r.minor!, r.currency, gw.currencies),
    currency: r.currency,
    issuer: issuer && /^[0-9]+$/.test(issuer) ? Number(issuer) : r.reason,
    txid: txid || null,
    at: r.at,
  };
  const from = txid ? await creditSource(tx, r.reason, Number(issuer), txid) : null;
  if (from) item.from = from;
  return item;
}

/** Who a credit came from, read from its proof: ours for an inbound /transfer/create, the issuer's otherwise. */
async function creditSource(tx: Tx, reason: string | null, issuer: number, txid: string): Promise<Party | null> {
  const proofJson =
    reason === "transfer_in" ? await tx.history.issuedProof(txid) : await tx.history.receivedProof(issuer, txid);
  if (proofJson === null) return null;
  const p = JSON.parse(proofJson) as { issuer: number; from?: { ocid?: number; reference?: string }; memo?: string };
  const from: Party = { gateway: reason === "transfer_in" ? issuer : p.issuer };
  if (p.from?.ocid !== undefined) from.ocid = p.from.ocid;
  if (p.from?.reference !== undefined) from.reference = p.from.reference;
  return from;
}
