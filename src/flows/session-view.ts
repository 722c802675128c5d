// §10.2 session view and history: what the wallet app shows, read from the database.
import type { Gateway } from "../gateway";
import type { SessionRow } from "../store/sessions";
import { sessionStatus } from "../store/sessions";
import { expireIfDue } from "./answer-payment";
import { merchantView } from "./messages";
import { formatMinor } from "../protocol/money";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import { recipientOf, senderOf, type Party } from "./p2p-messages";

export function sessionView(gw: Gateway, s: SessionRow) {
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
      view.scan = sc.kind === "inventory" && sc.inventory_json ? { kind: sc.kind, inventory: JSON.parse(sc.inventory_json) } : { kind: sc.kind };
      view.merchant ??= merchantView(gw, sc.merchant_ocid);
    }
  }
  if (o?.final_txid) view.txid = o.final_txid;
  if (o) view.urls = JSON.parse(o.urls_json);
  return view;
}

const CURSOR_RE = /^[0-9]{27}$/;
/** Statuses in which the user's money has left the balance (declined, expired, waiting and refunded: not charged). */
const CHARGED = new Set(["confirmed", "paid", "in_review"]);

/** Payments and credits, newest first, with an opaque cursor (§10.2 history). */
export function history(gw: Gateway, user: User, limitParam: string | undefined, beforeParam: string | undefined) {
  const limit = limitParam === undefined ? 20 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ProtocolError("INVALID_REQUEST", "limit must be an integer from 1 to 100", { reason: "limit", fields: ["limit"], min: 1, max: 100 });
  if (beforeParam !== undefined && !CURSOR_RE.test(beforeParam)) throw new ProtocolError("INVALID_REQUEST", "before must be a nextBefore value from an earlier page", { reason: "cursor", fields: ["before"] });
  const before = beforeParam ?? "9".repeat(27);
  const rows = gw.db
    .query<
      { k: string; kind: string; id: number; at: number; session_id: string | null; order_id: string | null; merchant_ocid: number | null; amount: string | null; minor: string; currency: string; status: string | null; txid: string | null; updated_at: number; reason: string | null; ref: string | null; refunded: string | null },
      [string, string, string, number]
    >(
      `SELECT * FROM (
         SELECT printf('%011d1%015d', received_at, id) AS k, 'payment' AS kind, id, received_at AS at, session_id, order_id,
                merchant_ocid, amount, CAST(amount_minor AS TEXT) AS minor, currency, status, final_txid AS txid, updated_at,
                NULL AS reason, NULL AS ref,
                (SELECT CAST(SUM(amount_minor) AS TEXT) FROM refunds WHERE order_id = orders.id AND status = 'succeeded') AS refunded
           FROM orders WHERE user_id = ?1
         UNION ALL
         SELECT printf('%011d0%015d', created_at, id), 'credit', id, created_at, NULL, NULL, NULL, NULL, CAST(delta AS TEXT),
                currency, NULL, NULL, created_at, reason, ref, NULL
           FROM ledger_entries WHERE account = ?2 AND delta > 0 AND reason IN ('funding', 'webhook_credit', 'transfer_in', 'topup')
         UNION ALL
         SELECT printf('%011d2%015d', created_at, rowid), 'sent', rowid, created_at, NULL, NULL, NULL, amount, NULL, currency, status,
                txid, updated_at, NULL, id, NULL
           FROM p2p_transfers WHERE user_id = ?1
         UNION ALL
         SELECT printf('%011d3%015d', created_at, rowid), 'received', rowid, created_at, NULL, NULL, NULL, amount, NULL, currency,
                status, txid, updated_at, NULL, id, NULL
           FROM p2p_transfers WHERE to_user_id = ?1 AND status = 'paid'
       ) WHERE k < ?3 ORDER BY k DESC LIMIT ?4`,
    )
    .all(user.id, `user:${user.id}`, before, limit + 1);
  const items = rows.slice(0, limit).map((r) => {
    if (r.kind === "payment") {
      const { icon: _icon, ...merchant } = merchantView(gw, r.merchant_ocid!, r.id);
      const item: Record<string, unknown> = {
        kind: "payment",
        sessionId: r.session_id,
        orderId: r.order_id,
        merchant,
        amount: r.amount,
        currency: r.currency,
        status: r.status,
        charged: CHARGED.has(r.status!),
        receivedAt: r.at,
        updatedAt: r.updated_at,
      };
      if (r.txid) item.txid = r.txid;
      if (r.refunded) item.refunded = formatMinor(BigInt(r.refunded), r.currency, gw.currencies);
      return item;
    }
    if (r.kind === "sent" || r.kind === "received") {
      const row = gw.store.p2p.byId(r.ref!)!;
      const item: Record<string, unknown> = { kind: r.kind, amount: row.amount, currency: row.currency, status: row.status, at: row.created_at };
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
      amount: formatMinor(BigInt(r.minor), r.currency, gw.currencies),
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
  if (rows.length > limit) out.nextBefore = rows[limit - 1]!.k;
  return out;
}

/** Who a credit came from, read from its proof: ours for an inbound /transfer/create, the issuer's otherwise. */
function creditSource(gw: Gateway, reason: string | null, issuer: number, txid: string): Party | null {
  const row =
    reason === "transfer_in"
      ? gw.db.query<{ proof_json: string }, [string]>("SELECT proof_json FROM issued_proofs WHERE txid = ?").get(txid)
      : gw.db.query<{ proof_json: string }, [number, string]>("SELECT proof_json FROM received_proofs WHERE issuer = ? AND txid = ?").get(issuer, txid);
  if (!row) return null;
  const p = JSON.parse(row.proof_json) as { issuer: number; from?: { ocid?: number; reference?: string }; memo?: string };
  const from: Party = { gateway: reason === "transfer_in" ? issuer : p.issuer };
  if (p.from?.ocid !== undefined) from.ocid = p.from.ocid;
  if (p.from?.reference !== undefined) from.reference = p.from.reference;
  return from;
}
