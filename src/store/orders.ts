// §11.2 order records and their conditional state transitions (§11.1). Call mutators inside a transaction.
// Every status change is one of the lifecycle's events: its SET and WHERE come from the table in
// src/domain/order-lifecycle.ts, so no caller can make a move §11.1 does not list.
import type { Database } from "bun:sqlite";
import type { Candidate } from "../domain/settlement-job";
import {
  INITIAL_ORDER_STATUS,
  sourcesOf,
  targetOf,
  type OrderEvent,
  type OrderStatus,
} from "../domain/order-lifecycle";
import { camelAll, camelOrNull, type Camel } from "./records";

export type { OrderStatus };

/** One §11.1 move and the data it records. */
export type OrderMove =
  | { event: "confirm"; userId: string }
  | { event: "decline"; userId: string }
  | { event: "expire" }
  | { event: "settle"; proofJson: string; signature: string; txid: string }
  | { event: "fail" | "review" | "operator_refund" };

const SQL_WORD = /^[a-z_]+$/;
/** An order status as an SQL literal (shared with the PostgreSQL repository: both dialects spell it the same). */
export const quoted = (s: OrderStatus): string => {
  if (!SQL_WORD.test(s)) throw new Error(`order status ${s} cannot be inlined in SQL`);
  return `'${s}'`;
};
/** `status = <target>` and `status IN (<sources>)` of one event, from the lifecycle table. */
export const setStatus = (event: OrderEvent): string => `status = ${quoted(targetOf(event))}`;
export const fromStatus = (event: OrderEvent): string => `status IN (${sourcesOf(event).map(quoted).join(", ")})`;

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
  amount_minor: bigint;
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

export type OrderRecord = Camel<Row>;
/** An order's money column (BigInt on both engines, ./records.ts). */
export const ORDER_MONEY = ["amount_minor"] as const;

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

const SELECT = "SELECT * FROM orders";
const toRecord = (r: Row | null): OrderRecord | null => camelOrNull(r, ORDER_MONEY);
type Expired = { id: number; user_id: string | null; session_id: string };
/** An order the sweeper expired: whose it was and the session it came from. */
export type ExpiredOrder = Camel<Expired>;

export function orders(db: Database) {
  const insert = db.query(
    `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json,
       amount, amount_minor, currency, user_id, status, confirm_deadline, candidates_json, settlement_type,
       settlement_via, received_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${quoted(INITIAL_ORDER_STATUS)}, ?, ?, ?, ?, ?, ?)`,
  );
  const bySession = db.query<Row, [string]>(`${SELECT} WHERE session_id = ? ORDER BY id DESC LIMIT 1`);
  const byId = db.query<Row, [number]>(`${SELECT} WHERE id = ?`);
  const forCaller = db.query<Row, [number, string]>(
    `${SELECT} WHERE caller_ocid = ? AND order_id = ? ORDER BY received_at DESC, id DESC LIMIT 1`,
  );
  const expireOne = db.query(
    `UPDATE orders SET ${setStatus("expire")}, updated_at = ?2
     WHERE id = ?1 AND ${fromStatus("expire")} AND confirm_deadline < ?2`,
  );
  const expireDue = db.query<Expired, [number]>(
    `UPDATE orders SET ${setStatus("expire")}, updated_at = ?1 WHERE ${fromStatus("expire")} AND confirm_deadline < ?1
     RETURNING id, user_id, session_id`,
  );
  const confirm = db.query(
    `UPDATE orders SET ${setStatus("confirm")}, user_id = ?2, confirmed_at = ?3, updated_at = ?3
     WHERE id = ?1 AND ${fromStatus("confirm")} AND confirm_deadline >= ?3 AND (user_id = ?2 OR user_id IS NULL)`,
  );
  const decline = db.query(
    `UPDATE orders SET ${setStatus("decline")}, user_id = COALESCE(user_id, ?2), updated_at = ?3
     WHERE id = ?1 AND ${fromStatus("decline")} AND (user_id = ?2 OR user_id IS NULL)`,
  );
  const settle = db.query(
    `UPDATE orders SET ${setStatus("settle")}, final_proof_json = ?2, final_signature = ?3, final_txid = ?4,
       updated_at = ?5
     WHERE id = ?1 AND ${fromStatus("settle")}`,
  );
  const statusOnly = (event: OrderEvent) =>
    db.query(`UPDATE orders SET ${setStatus(event)}, updated_at = ?2 WHERE id = ?1 AND ${fromStatus(event)}`);
  const fail = statusOnly("fail");
  const review = statusOnly("review");
  const operatorRefund = statusOnly("operator_refund");
  const awaitingForUser = db.query<Row, [string, number]>(
    `${SELECT} WHERE user_id = ? AND status = ${quoted(INITIAL_ORDER_STATUS)} AND confirm_deadline >= ?
     ORDER BY received_at, id`,
  );
  // Money is BigInt: every integer of an order row is read as one and the mapper keeps only the money so.
  for (const read of [bySession, byId, forCaller, awaitingForUser]) read.safeIntegers(true);
  const setSettlement = db.query(
    "UPDATE orders SET settlement_type = ?2, settlement_via = ?3, updated_at = ?4 WHERE id = ?1",
  );

  /** The conditional UPDATE of one move; false when the order is no longer where the event applies. */
  function run(id: number, m: OrderMove, now: number): number {
    switch (m.event) {
      case "confirm":
        return confirm.run(id, m.userId, now).changes;
      case "decline":
        return decline.run(id, m.userId, now).changes;
      case "expire":
        return expireOne.run(id, now).changes;
      case "settle":
        return settle.run(id, m.proofJson, m.signature, m.txid, now).changes;
      case "fail":
        return fail.run(id, now).changes;
      case "review":
        return review.run(id, now).changes;
      case "operator_refund":
        return operatorRefund.run(id, now).changes;
    }
  }

  return {
    /** Throws a unique violation when an active order with the same (merchant, id) exists. */
    insert(o: NewOrder): number {
      const r = insert.run(
        o.sessionId,
        o.callerOcid,
        o.merchantOcid,
        o.orderId,
        o.orderJson,
        o.signature,
        o.sigForm,
        o.urlsJson,
        o.amount,
        o.amountMinor,
        o.currency,
        o.userId,
        o.confirmDeadline,
        JSON.stringify(o.candidates),
        o.settlementType ?? null,
        o.settlementVia ?? null,
        o.now,
        o.now,
      );
      return Number(r.lastInsertRowid);
    },
    bySession: (sessionId: string) => toRecord(bySession.get(sessionId)),
    byId: (id: number) => toRecord(byId.get(id)),
    latestForCaller: (callerOcid: number, orderId: string) => toRecord(forCaller.get(callerOcid, orderId)),
    /** §11.1: the one way an order changes status. False: it is no longer in a status the event applies to. */
    move: (id: number, m: OrderMove, now: number): boolean => run(id, m, now) === 1,
    /** The sweeper's `expire` for every order whose confirmation window closed. */
    expireDue: (now: number): ExpiredOrder[] => camelAll(expireDue.all(now)),
    awaitingForUser: (userId: string, now: number) => camelAll(awaitingForUser.all(userId, now), ORDER_MONEY),
    setSettlement: (id: number, type: string, via: number | null, now: number) => setSettlement.run(id, type, via, now),
  };
}
export type Orders = ReturnType<typeof orders>;
