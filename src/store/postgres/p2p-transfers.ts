// Issue 17 person-to-person transfers on PostgreSQL (the SQLite twin: ../p2p-transfers.ts). Two requests with one
// idempotency key: the second INSERT waits on the first's row and fails on UNIQUE (user_id, idempotency_key) once
// it commits (23505, mapped by ../constraint.ts), which the flow answers as a replay. A row inserted leased (the
// request's own first attempt) gets its lease on the database clock, as a claim does (./claims.ts): the caller's
// `lease_until - created_at` is its length.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { P2pRow } from "../p2p-transfers";
import { withInts } from "./values";
import { DB_NOW } from "./claims";

const INTS = [
  "to_ocid",
  "via",
  "amount_minor",
  "pinned",
  "attempts",
  "next_attempt_at",
  "deadline",
  "review_noted",
  "lease_until",
  "created_at",
  "updated_at",
] as const;

export function pgP2pTransfers(sql: SQL): Tx["p2p"] {
  const columns = sql`id, user_id, idempotency_key, request_hash, kind, to_user_id, to_ocid, to_label, via, amount,
    amount_minor, currency, memo, status, state, request_body, txid, proof_json, signature, pinned, attempts,
    next_attempt_at, deadline, review_noted, lease_owner, lease_until, last_error, created_at, updated_at`;
  const row = (r: Record<string, unknown> | undefined) => (r ? withInts<P2pRow>(r, INTS) : undefined);
  return {
    async insert(r) {
      await sql`INSERT INTO p2p_transfers (id, user_id, idempotency_key, request_hash, kind, to_user_id, to_ocid,
          to_label, via, amount, amount_minor, currency, memo, status, state, request_body, txid, next_attempt_at,
          deadline, lease_owner, lease_until, created_at, updated_at)
        VALUES (${r.id}, ${r.user_id}, ${r.idempotency_key}, ${r.request_hash}, ${r.kind}, ${r.to_user_id},
          ${r.to_ocid}, ${r.to_label}, ${r.via}, ${r.amount}, ${r.amount_minor}, ${r.currency}, ${r.memo},
          ${r.status}, ${r.state}, ${r.request_body}, ${r.txid}, ${r.next_attempt_at}, ${r.deadline},
          ${r.lease_owner}, ${sql.unsafe(DB_NOW)} + ${r.lease_until}::bigint - ${r.created_at}::bigint,
          ${r.created_at}, ${r.created_at})`;
    },
    async byKey(userId, key) {
      const [r] = await sql`SELECT ${columns} FROM p2p_transfers WHERE user_id = ${userId}
        AND idempotency_key = ${key}`;
      return row(r);
    },
    async byId(id) {
      const [r] = await sql`SELECT ${columns} FROM p2p_transfers WHERE id = ${id}`;
      return row(r);
    },
  };
}
