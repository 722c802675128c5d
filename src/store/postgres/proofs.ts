// Proofs at rest on PostgreSQL (see ../proofs.ts). (issuer, txid) is the primary key on both engines, so a txid is
// used once even when two nodes race: the second INSERT waits for the first to commit and then fails with a unique
// violation (constraint.ts maps it like SQLite's), and its whole transaction rolls back.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { TxidUse } from "../proofs";
import { pgRecordOrNull } from "./rows";

export function pgProofs(sql: SQL): Tx["proofs"] {
  return {
    async insertIssued(p) {
      await sql`INSERT INTO issued_proofs (txid, proof_json, signature, canonical, order_id, created_at)
        VALUES (${p.txid}, ${p.proofJson}, ${p.signature}, ${p.canonical}, ${p.orderId}, ${p.now})`;
    },
    received: async (issuer, txid) =>
      pgRecordOrNull<TxidUse>(
        await sql`SELECT job_id, reply_json, outcome FROM received_proofs WHERE issuer = ${issuer} AND txid = ${txid}`,
      ),
    async updateReceived(r) {
      await sql`UPDATE received_proofs SET proof_json = ${r.document}, signature = ${r.signature},
          sig_form = ${r.sigForm}, outcome = ${r.outcome}
        WHERE issuer = ${r.issuer} AND txid = ${r.txid}`;
    },
    async insertReceived(r) {
      await sql`INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, job_id,
          received_at)
        VALUES (${r.issuer}, ${r.txid}, ${r.document}, ${r.signature}, ${r.sigForm}, ${r.outcome}, ${r.replyJson},
          ${r.jobId}, ${r.now})`;
    },
    // Claim-first (see ../proofs.ts): a concurrent claim waits for the first to commit, then inserts nothing.
    async claimReceived(r) {
      const rows = await sql`INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome,
          reply_json, job_id, received_at)
        VALUES (${r.issuer}, ${r.txid}, ${r.document}, ${r.signature}, ${r.sigForm}, ${r.outcome}, ${r.replyJson},
          ${r.jobId}, ${r.now})
        ON CONFLICT (issuer, txid) DO NOTHING
        RETURNING 1 AS n`;
      return rows.length === 1;
    },
    async recordWebhookReply(r) {
      await sql`INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json,
          received_at)
        VALUES (${r.issuer}, ${r.txid}, ${r.document}, ${r.signature}, ${r.sigForm}, ${r.outcome}, ${r.replyJson},
          ${r.now})
        ON CONFLICT (issuer, txid) DO UPDATE SET proof_json = EXCLUDED.proof_json, signature = EXCLUDED.signature,
          sig_form = EXCLUDED.sig_form, outcome = EXCLUDED.outcome, reply_json = EXCLUDED.reply_json
        WHERE received_proofs.job_id IS NULL AND received_proofs.reply_json IS NULL`;
    },
  };
}
