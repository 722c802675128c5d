// §11.2 order records and their conditional state transitions (§11.1). Call mutators inside a transaction.
import type { Database } from "bun:sqlite";
import type { Candidate } from "../settlement/candidates";

export type OrderStatus = "awaiting_confirmation" | "confirmed" | "paid" | "declined" | "expired" | "failed" | "in_review";

type Row = {
  id: number;
  session_id: string;
  caller_ocid: number;
  merchant_ocid: number;
  order_id: string;
  order_json: string;
  signature: string;
  sig_form: "deep" | "replacer";
  urls_json: string;
  amount: string;
  amount_minor_s: string;
  currency: string;
  user_id: string | null;
  status: OrderStatus;
  confirm_deadline: number;
  candidates_json: string;
  settlement_type: string | null;
  settlement_via: number | null;
  final_proof_json: string | null;
  final_signature: string | null;
  final_txid: string | null;
  received_at: number;
  confirmed_at: number | null;
  updated_at: number;
};

export type OrderRecord = Omit<Row, "amount_minor_s"> & { amount_minor: bigint };

export type NewOrder = {
  sessionId: string;
  callerOcid: number;
  merchantOcid: number;
  orderId: string;
  orderJson: string;
  signature: string;
  sigForm: "deep" | "replacer";
  urlsJson: string;
  amount: string;
  amountMinor: bigint;
  currency: string;
  userId: string | null;
  confirmDeadline: number;
  candidates: Candidate[];
  settlementType?: string | null;
  settlementVia?: number | null;
  now: number;
};

const SELECT = "SELECT *, CAST(amount_minor AS TEXT) AS amount_minor_s FROM orders";
const toRecord = (r: Row | null): OrderRecord | null => {
  if (!r) return null;
  const { amount_minor_s, ...rest } = r;
  return { ...rest, amount_minor: BigInt(amount_minor_s) } as OrderRecord;
};

export function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(String((e as Error)?.message));
}

export function orders(db: Database) {
  const insert = db.query(
    `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json,
       amount, amount_minor, currency, user_id, status, confirm_deadline, candidates_json, settlement_type, settlement_via,
       received_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'awaiting_confirmation', ?, ?, ?, ?, ?, ?)`,
  );
  const bySession = db.query<Row, [string]>(`${SELECT} WHERE session_id = ? ORDER BY id DESC LIMIT 1`);
  const byId = db.query<Row, [number]>(`${SELECT} WHERE id = ?`);
  const forCaller = db.query<Row, [number, string]>(
    `${SELECT} WHERE caller_ocid = ? AND order_id = ? ORDER BY received_at DESC, id DESC LIMIT 1`,
  );
  const expireOne = db.query(
    "UPDATE orders SET status = 'expired', updated_at = ?2 WHERE id = ?1 AND status = 'awaiting_confirmation' AND confirm_deadline < ?2",
  );
  const expireDue = db.query<{ id: number; user_id: string | null; session_id: string }, [number]>(
    `UPDATE orders SET status = 'expired', updated_at = ?1 WHERE status = 'awaiting_confirmation' AND confirm_deadline < ?1
     RETURNING id, user_id, session_id`,
  );
  const confirm = db.query(
    `UPDATE orders SET status = 'confirmed', user_id = ?2, confirmed_at = ?3, updated_at = ?3
     WHERE id = ?1 AND status = 'awaiting_confirmation' AND confirm_deadline >= ?3 AND (user_id = ?2 OR user_id IS NULL)`,
  );
  const decline = db.query(
    `UPDATE orders SET status = 'declined', user_id = COALESCE(user_id, ?2), updated_at = ?3
     WHERE id = ?1 AND status = 'awaiting_confirmation' AND (user_id = ?2 OR user_id IS NULL)`,
  );
  const awaitingForUser = db.query<Row, [string, number]>(
    `${SELECT} WHERE user_id = ? AND status = 'awaiting_confirmation' AND confirm_deadline >= ? ORDER BY received_at, id`,
  );
  const setStatus = db.query(
    "UPDATE orders SET status = ?3, updated_at = ?4 WHERE id = ?1 AND status = ?2",
  );
  const setSettlement = db.query("UPDATE orders SET settlement_type = ?2, settlement_via = ?3, updated_at = ?4 WHERE id = ?1");
  const markPaid = db.query(
    `UPDATE orders SET status = 'paid', final_proof_json = ?2, final_signature = ?3, final_txid = ?4, updated_at = ?5
     WHERE id = ?1 AND status IN ('confirmed', 'in_review')`,
  );

  return {
    /** Throws a unique violation when an active order with the same (merchant, id) exists. */
    insert(o: NewOrder): number {
      const r = insert.run(
        o.sessionId, o.callerOcid, o.merchantOcid, o.orderId, o.orderJson, o.signature, o.sigForm, o.urlsJson,
        o.amount, o.amountMinor, o.currency, o.userId, o.confirmDeadline, JSON.stringify(o.candidates),
        o.settlementType ?? null, o.settlementVia ?? null, o.now, o.now,
      );
      return Number(r.lastInsertRowid);
    },
    bySession: (sessionId: string) => toRecord(bySession.get(sessionId)),
    byId: (id: number) => toRecord(byId.get(id)),
    latestForCaller: (callerOcid: number, orderId: string) => toRecord(forCaller.get(callerOcid, orderId)),
    expireIfDue: (id: number, now: number) => expireOne.run(id, now).changes === 1,
    expireDue: (now: number) => expireDue.all(now),
    confirm: (id: number, userId: string, now: number) => confirm.run(id, userId, now).changes === 1,
    decline: (id: number, userId: string, now: number) => decline.run(id, userId, now).changes === 1,
    awaitingForUser: (userId: string, now: number) => awaitingForUser.all(userId, now).map((r) => toRecord(r)!),
    transition: (id: number, from: OrderStatus, to: OrderStatus, now: number) => setStatus.run(id, from, to, now).changes === 1,
    setSettlement: (id: number, type: string, via: number | null, now: number) => setSettlement.run(id, type, via, now),
    markPaid: (id: number, proofJson: string, signature: string, txid: string, now: number) =>
      markPaid.run(id, proofJson, signature, txid, now).changes === 1,
  };
}
export type Orders = ReturnType<typeof orders>;
