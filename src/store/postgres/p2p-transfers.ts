// Issue 17 person-to-person transfers on PostgreSQL (the SQLite twin: ../p2p-transfers.ts). Two requests with one
// idempotency key: the second INSERT waits on the first's row and fails on UNIQUE (user_id, idempotency_key) once
// it commits (23505, mapped by ../constraint.ts), which the flow answers as a replay. A row inserted leased (the
// request's own first attempt) gets its lease on the database clock, as a claim does (./claims.ts): the caller's
// `leaseUntil - createdAt` is its length.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { P2pRow } from "../p2p-transfers";
import { pgRecordOrNull } from "./rows";
import { DB_NOW } from "./claims";

export function pgP2pTransfers(sql: SQL): Tx["p2p"] {
  const columns = sql`id, user_id, idempotency_key, request_hash, kind, to_user_id, to_ocid, to_label, via, amount,
    amount_minor, currency, memo, status, state, request_body, txid, proof_json, signature, pinned, attempts,
    next_attempt_at, deadline, review_noted, lease_owner, lease_until, last_error, created_at, updated_at`;
  const row = (rows: Record<string, unknown>[]) => pgRecordOrNull<P2pRow>(rows) ?? undefined;
  return {
    async insert(r) {
      await sql`INSERT INTO p2p_transfers (id, user_id, idempotency_key, request_hash, kind, to_user_id, to_ocid,
          to_label, via, amount, amount_minor, currency, memo, status, state, request_body, txid, next_attempt_at,
          deadline, lease_owner, lease_until, created_at, updated_at)
        VALUES (${r.id}, ${r.userId}, ${r.idempotencyKey}, ${r.requestHash}, ${r.kind}, ${r.toUserId},
          ${r.toOcid}, ${r.toLabel}, ${r.via}, ${r.amount}, ${r.amountMinor}, ${r.currency}, ${r.memo},
          ${r.status}, ${r.state}, ${r.requestBody}, ${r.txid}, ${r.nextAttemptAt}, ${r.deadline},
          ${r.leaseOwner}, ${sql.unsafe(DB_NOW)} + ${r.leaseUntil}::bigint - ${r.createdAt}::bigint,
          ${r.createdAt}, ${r.createdAt})`;
    },
    byKey: async (userId, key) =>
      row(await sql`SELECT ${columns} FROM p2p_transfers WHERE user_id = ${userId} AND idempotency_key = ${key}`),
    byId: async (id) => row(await sql`SELECT ${columns} FROM p2p_transfers WHERE id = ${id}`),
  };
}
