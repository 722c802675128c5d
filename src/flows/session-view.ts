// §10.2 session view and history: what the wallet app shows, read from the database.
import type { Gateway } from "../gateway";
import type { SessionRow } from "../store/sessions";
import { sessionStatus } from "../store/sessions";
import { expireIfDue } from "./answer-payment";
import { merchantView } from "../notify/messages";
import { formatMinor } from "../protocol/money";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import { userAccount } from "../store/ledger";
import { recipientOf, senderOf, type Party } from "../notify/p2p-messages";

export function sessionView(gw: Pick<Gateway, "clock" | "directory" | "hub" | "store">, s: SessionRow) {
  const now = gw.clock();
  const found = gw.store.orders.bySession(s.id);
  const o = found ? expireIfDue(gw, found) : null;
  const view: Record<string, unknown> = {
    sessionId: s.id,
    kind: s.kind,
    sessionStatus: sessionStatus(s, now),
    expiresAt: s.expires_at,
    order: o ? JSON.parse(o.order_json) : null,
    merchant: o ? merchantView(gw, o.merchant_ocid, o.id) : null,
    status: o?.status ?? null,
    confirmBy: o && o.status === "awaiting_confirmation" ? o.confirm_deadline : null,
  };
  if (s.kind === "scan") {
    // Issue 13: what was scanned; an inventory session shows its items until the user orders.
    const sc = gw.store.scans.get(s.id);
    if (sc) {
      view.scan =
        sc.kind === "inventory" && sc.inventory_json
          ? { kind: sc.kind, inventory: JSON.parse(sc.inventory_json) }
          : { kind: sc.kind };
      view.merchant ??= merchantView(gw, sc.merchant_ocid);
    }
  }
  if (o?.final_txid) view.txid = o.final_txid;
  if (o) view.urls = JSON.parse(o.urls_json);
  return view;
}

/** A history key: 11 digits of time, 1 of kind, 15 of id (src/store/history.ts). */
const CURSOR_LENGTH = 27;
const CURSOR_RE = new RegExp(`^[0-9]{${CURSOR_LENGTH}}$`);
const HISTORY_PAGE_DEFAULT = 20;
const HISTORY_PAGE_MAX = 100;
/** Statuses in which the user's money has left the balance (declined, expired, waiting and refunded: not charged). */
const CHARGED = new Set(["confirmed", "paid", "in_review"]);

/** Payments and credits, newest first, with an opaque cursor (§10.2 history). */
export function history(
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
  const rows = gw.store.history.page(user.id, userAccount(user.id), before, limit + 1);
  const items = rows.slice(0, limit).map((r) => {
    if (r.kind === "payment") {
      const { icon: _icon, ...merchant } = merchantView(gw, r.merchantOcid!, r.id);
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
      const row = gw.store.p2p.byId(r.ref!)!;
      const item: Record<string, unknown> = {
        kind: r.kind,
        amount: row.amount,
        currency: row.currency,
        status: row.status,
        at: row.created_at,
      };
      if (r.kind === "sent") item.to = recipientOf(gw, row);
      else item.from = senderOf(gw, row);
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
    const from = txid ? creditSource(gw, r.reason, Number(issuer), txid) : null;
    if (from) item.from = from;
    return item;
  });
  const out: { items: unknown[]; nextBefore?: string } = { items };
  if (rows.length > limit) out.nextBefore = rows[limit - 1]!.key;
  return out;
}

/** Who a credit came from, read from its proof: ours for an inbound /transfer/create, the issuer's otherwise. */
function creditSource(gw: Pick<Gateway, "store">, reason: string | null, issuer: number, txid: string): Party | null {
  const proofJson =
    reason === "transfer_in" ? gw.store.history.issuedProof(txid) : gw.store.history.receivedProof(issuer, txid);
  if (proofJson === null) return null;
  const p = JSON.parse(proofJson) as { issuer: number; from?: { ocid?: number; reference?: string }; memo?: string };
  const from: Party = { gateway: reason === "transfer_in" ? issuer : p.issuer };
  if (p.from?.ocid !== undefined) from.ocid = p.from.ocid;
  if (p.from?.reference !== undefined) from.reference = p.from.reference;
  return from;
}
