// Person-to-person transfers (issue 17). An `internal` row is final when written; an `outbound` row is also the
// durable outbox entry of its /transfer/create to the recipient's gateway (claimed with a lease, like jobs).
import type { Database } from "bun:sqlite";
import { camelOrNull, type Camel } from "./records";

export type P2pStatus = "pending" | "paid" | "refunded";
type Row = {
  id: string;
  user_id: string;
  idempotency_key: string;
  request_hash: string;
  kind: "internal" | "outbound";
  to_user_id: string | null;
  to_ocid: number | null;
  to_label: string;
  via: number | null;
  amount: string;
  amount_minor: number;
  currency: string;
  memo: string | null;
  status: P2pStatus;
  state: "pending" | "done" | "failed" | "in_review";
  request_body: string | null;
  txid: string | null;
  proof_json: string | null;
  signature: string | null;
  pinned: number;
  attempts: number;
  next_attempt_at: number;
  deadline: number;
  review_noted: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
};
export type P2pRow = Camel<Row>;

export type NewP2p = Omit<
  P2pRow,
  "state" | "pinned" | "attempts" | "reviewNoted" | "lastError" | "updatedAt" | "proofJson" | "signature"
> & {
  state: P2pRow["state"];
};

export function p2pTransfers(db: Database) {
  const insert = db.query(
    `INSERT INTO p2p_transfers (id, user_id, idempotency_key, request_hash, kind, to_user_id, to_ocid, to_label, via,
       amount,
       amount_minor, currency, memo, status, state, request_body, txid, next_attempt_at, deadline, lease_owner,
       lease_until,
       created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?22)`,
  );
  const byKey = db.query<Row, [string, string]>(
    "SELECT * FROM p2p_transfers WHERE user_id = ? AND idempotency_key = ?",
  );
  const byId = db.query<Row, [string]>("SELECT * FROM p2p_transfers WHERE id = ?");
  return {
    /** Call inside the transaction that moves the money. */
    insert: (r: NewP2p): void =>
      void insert.run(
        r.id,
        r.userId,
        r.idempotencyKey,
        r.requestHash,
        r.kind,
        r.toUserId,
        r.toOcid,
        r.toLabel,
        r.via,
        r.amount,
        r.amountMinor,
        r.currency,
        r.memo,
        r.status,
        r.state,
        r.requestBody,
        r.txid,
        r.nextAttemptAt,
        r.deadline,
        r.leaseOwner,
        r.leaseUntil,
        r.createdAt,
      ),
    byKey: (userId: string, key: string) => camelOrNull(byKey.get(userId, key)) ?? undefined,
    byId: (id: string) => camelOrNull(byId.get(id)) ?? undefined,
  };
}
