// Proofs at rest: the ones we issue (§13.2, stored with their canonical string and never re-created) and the
// (issuer, txid) registry of the ones we received (§12.5, §13.3 step 9): one row per movement a peer named.
import type { Database } from "bun:sqlite";

export type IssuedProofRow = {
  txid: string;
  proofJson: string;
  signature: string;
  canonical: string;
  orderId: number | null;
  now: number;
};

export function insertIssuedProof(db: Database, p: IssuedProofRow): void {
  db.query(
    "INSERT INTO issued_proofs (txid, proof_json, signature, canonical, order_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(p.txid, p.proofJson, p.signature, p.canonical, p.orderId, p.now);
}

export type TxidUse = { job_id: string | null; reply_json: string | null; outcome: string };

export type ReceivedProofRow = {
  issuer: number;
  txid: string;
  /** The proof JSON as received; for a payment reference, the payment.create reply. */
  document: string;
  signature: string;
  sigForm: string;
  outcome: string;
  replyJson: string | null;
  jobId: string | null;
  now: number;
};

export function receivedProof(db: Database, issuer: number, txid: string): TxidUse | null {
  return db
    .query<TxidUse, [number, string]>("SELECT job_id, reply_json, outcome FROM received_proofs WHERE issuer = ? AND txid = ?")
    .get(issuer, txid);
}

/** The same job claims its txid again: the row records the newer document. */
export function updateReceivedProof(db: Database, r: Omit<ReceivedProofRow, "replyJson" | "jobId" | "now">): void {
  db.query(
    "UPDATE received_proofs SET proof_json = ?, signature = ?, sig_form = ?, outcome = ? WHERE issuer = ? AND txid = ?",
  ).run(r.document, r.signature, r.sigForm, r.outcome, r.issuer, r.txid);
}

export function insertReceivedProof(db: Database, r: ReceivedProofRow): void {
  db.query(
    `INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, job_id, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(r.issuer, r.txid, r.document, r.signature, r.sigForm, r.outcome, r.replyJson, r.jobId, r.now);
}

/** A /transfer/webhook answer, stored once: a row a settlement job already owns keeps no stored reply. */
export function recordWebhookReply(db: Database, r: Omit<ReceivedProofRow, "jobId">): void {
  db.query(
    `INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (issuer, txid) DO NOTHING`,
  ).run(r.issuer, r.txid, r.document, r.signature, r.sigForm, r.outcome, r.replyJson, r.now);
}
