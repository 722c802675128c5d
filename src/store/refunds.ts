// Issue 16: refunds of paid orders. Call mutators inside a transaction; `committed` (pending + succeeded) is what
// the cap is checked against, in the same IMMEDIATE transaction as the insert, so concurrent refunds cannot overshoot.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { camelAll, camelOrNull, type Camel } from "./records";

export type RefundStatus = "pending" | "succeeded" | "failed";
export type RefundMethod = "direct" | "partner" | "merchant_transfer";
type Row = {
  id: string;
  order_id: number;
  amount: string;
  amount_minor: bigint;
  currency: string;
  status: RefundStatus;
  method: RefundMethod;
  issuer: number | null;
  txid: string | null;
  proof_json: string | null;
  signature: string | null;
  created_by: string;
  created_at: number;
  completed_at: number | null;
};
export type RefundRow = Camel<Row>;
/** A refund's money column (BigInt on both engines, ./records.ts). */
export const REFUND_MONEY = ["amount_minor"] as const;

export function refunds(db: Database) {
  const insert = db.query(
    `INSERT INTO refunds (id, order_id, amount, amount_minor, currency, status, method, issuer, txid, proof_json,
       signature, created_by, created_at, completed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CASE WHEN ?6 = 'succeeded' THEN ?13 END)`,
  );
  // amount_minor as text: a 64-bit value must not pass through a float.
  const byOrder = db.query<Row, [number]>("SELECT * FROM refunds WHERE order_id = ? ORDER BY created_at, rowid");
  byOrder.safeIntegers(true);
  const byId = db.query<Row, [string]>("SELECT * FROM refunds WHERE id = ?");
  byId.safeIntegers(true);
  const sums = db.query<{ committed: bigint | null; succeeded: bigint | null }, [number]>(
    `SELECT SUM(CASE WHEN status IN ('pending','succeeded') THEN amount_minor END) AS committed,
            SUM(CASE WHEN status = 'succeeded' THEN amount_minor END) AS succeeded FROM refunds WHERE order_id = ?`,
  );
  sums.safeIntegers(true);
  const pending = db.query<Row & { user_id: string; settlement_via: number | null }, [string, bigint]>(
    `SELECT r.*, o.user_id, o.settlement_via FROM refunds r
       JOIN orders o ON o.id = r.order_id
     WHERE r.status = 'pending' AND r.currency = ? AND r.amount_minor = ?
     ORDER BY r.created_at, r.rowid`,
  );
  pending.safeIntegers(true);
  const complete = db.query(
    `UPDATE refunds SET status = 'succeeded', issuer = ?2, txid = ?3, proof_json = ?4, signature = ?5, completed_at = ?6
     WHERE id = ?1 AND status = 'pending'`,
  );
  return {
    insert(r: {
      orderId: number;
      amount: string;
      minor: bigint;
      currency: string;
      status: RefundStatus;
      method: RefundMethod;
      issuer?: number | null;
      txid?: string | null;
      proofJson?: string | null;
      signature?: string | null;
      createdBy: string;
      now: number;
    }): string {
      const id = "rf_" + randomHex(12);
      insert.run(
        id,
        r.orderId,
        r.amount,
        r.minor,
        r.currency,
        r.status,
        r.method,
        r.issuer ?? null,
        r.txid ?? null,
        r.proofJson ?? null,
        r.signature ?? null,
        r.createdBy,
        r.now,
      );
      return id;
    },
    byOrder: (orderId: number) => camelAll(byOrder.all(orderId), REFUND_MONEY),
    byId: (id: string) => camelOrNull(byId.get(id), REFUND_MONEY),
    totals(orderId: number): { committed: bigint; succeeded: bigint } {
      const r = sums.get(orderId);
      return { committed: r?.committed ?? 0n, succeeded: r?.succeeded ?? 0n };
    },
    /** Pending refunds a proof of this currency and amount could complete, oldest first. */
    pendingMatching: (currency: string, minor: bigint) => camelAll(pending.all(currency, minor), REFUND_MONEY),
    complete: (id: string, issuer: number, txid: string, proofJson: string, signature: string, now: number) =>
      complete.run(id, issuer, txid, proofJson, signature, now).changes === 1,
  };
}
export type Refunds = ReturnType<typeof refunds>;
