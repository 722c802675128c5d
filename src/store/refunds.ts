// Issue 16: refunds of paid orders. Call mutators inside a transaction; `committed` (pending + succeeded) is what
// the cap is checked against, in the same IMMEDIATE transaction as the insert, so concurrent refunds cannot overshoot.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";

export type RefundStatus = "pending" | "succeeded" | "failed";
export type RefundMethod = "direct" | "partner" | "merchant_transfer";
export type RefundRow = {
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

type Raw = Omit<RefundRow, "amount_minor"> & { amount_minor: number; minor_s: string };

export function refunds(db: Database) {
  const insert = db.query(
    `INSERT INTO refunds (id, order_id, amount, amount_minor, currency, status, method, issuer, txid, proof_json,
       signature, created_by, created_at, completed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CASE WHEN ?6 = 'succeeded' THEN ?13 END)`,
  );
  // amount_minor as text: a 64-bit value must not pass through a float.
  const SELECT = "SELECT r.*, CAST(r.amount_minor AS TEXT) AS minor_s FROM refunds r";
  const byOrder = db.query<Raw, [number]>(`${SELECT} WHERE r.order_id = ? ORDER BY r.created_at, r.rowid`);
  const byId = db.query<Raw, [string]>(`${SELECT} WHERE r.id = ?`);
  const sums = db.query<{ committed: bigint | null; succeeded: bigint | null }, [number]>(
    `SELECT SUM(CASE WHEN status IN ('pending','succeeded') THEN amount_minor END) AS committed,
            SUM(CASE WHEN status = 'succeeded' THEN amount_minor END) AS succeeded FROM refunds WHERE order_id = ?`,
  );
  sums.safeIntegers(true);
  const pending = db.query<Raw & { user_id: string; settlement_via: number | null }, [string, string]>(
    `SELECT r.*, CAST(r.amount_minor AS TEXT) AS minor_s, o.user_id, o.settlement_via FROM refunds r
       JOIN orders o ON o.id = r.order_id
     WHERE r.status = 'pending' AND r.currency = ? AND r.amount_minor = CAST(? AS INTEGER)
     ORDER BY r.created_at, r.rowid`,
  );
  const complete = db.query(
    `UPDATE refunds SET status = 'succeeded', issuer = ?2, txid = ?3, proof_json = ?4, signature = ?5, completed_at = ?6
     WHERE id = ?1 AND status = 'pending'`,
  );
  const fix = <T extends Raw>(r: T | null): (Omit<T, "minor_s" | "amount_minor"> & { amount_minor: bigint }) | null => {
    if (!r) return null;
    const { minor_s, amount_minor: _float, ...rest } = r;
    return { ...rest, amount_minor: BigInt(minor_s) };
  };
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
    byOrder: (orderId: number) => byOrder.all(orderId).map((r) => fix(r)!),
    byId: (id: string) => fix(byId.get(id)),
    totals(orderId: number): { committed: bigint; succeeded: bigint } {
      const r = sums.get(orderId);
      return { committed: r?.committed ?? 0n, succeeded: r?.succeeded ?? 0n };
    },
    /** Pending refunds a proof of this currency and amount could complete, oldest first. */
    pendingMatching: (currency: string, minor: bigint) => pending.all(currency, minor.toString()).map((r) => fix(r)!),
    complete: (id: string, issuer: number, txid: string, proofJson: string, signature: string, now: number) =>
      complete.run(id, issuer, txid, proofJson, signature, now).changes === 1,
  };
}
export type Refunds = ReturnType<typeof refunds>;
