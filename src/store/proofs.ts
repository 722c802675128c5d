// Proofs at rest: the ones we issue (§13.2, stored with their canonical string and never re-created) and the
// (issuer, txid) registry of the ones we received (§12.5, §13.3 step 9): one row per movement a peer named.
import type { Database } from "bun:sqlite";
import { camelOrNull, type Camel } from "./records";

export type IssuedProofRow = {
  txid: string;
  proofJson: string;
  signature: string;
  canonical: string;
  orderId: number | null;
  now: number;
};

type UseRow = { job_id: string | null; reply_json: string | null; outcome: string };
/** Who used an (issuer, txid) already: the settlement job that claimed it, or the webhook answer stored for it. */
export type TxidUse = Camel<UseRow>;

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

export function proofs(db: Database) {
  const issued = db.query(
    `INSERT INTO issued_proofs (txid, proof_json, signature, canonical, order_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const use = db.query<UseRow, [number, string]>(
    "SELECT job_id, reply_json, outcome FROM received_proofs WHERE issuer = ? AND txid = ?",
  );
  const update = db.query(
    "UPDATE received_proofs SET proof_json = ?, signature = ?, sig_form = ?, outcome = ? WHERE issuer = ? AND txid = ?",
  );
  const insert = db.query(
    `INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, job_id,
       received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Claim-first: the INSERT itself decides who holds (issuer, txid), so two writers (another node, another engine
  // with concurrent transactions) cannot both see "nobody" and both act on it.
  const claim = db.query<
    { n: number },
    [number, string, string, string, string, string, string | null, string | null, number]
  >(
    `INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, job_id,
       received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (issuer, txid) DO NOTHING
     RETURNING 1 AS n`,
  );
  // A webhook's answer fills the row its request claimed (job_id NULL, no reply yet), or a new one; a row a
  // settlement job owns, or one already answered, is left as it is.
  const reply = db.query(
    `INSERT INTO received_proofs (issuer, txid, proof_json, signature, sig_form, outcome, reply_json, received_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (issuer, txid) DO UPDATE SET proof_json = ?3, signature = ?4, sig_form = ?5, outcome = ?6,
       reply_json = ?7
     WHERE received_proofs.job_id IS NULL AND received_proofs.reply_json IS NULL`,
  );
  return {
    insertIssued: (p: IssuedProofRow): void => {
      issued.run(p.txid, p.proofJson, p.signature, p.canonical, p.orderId, p.now);
    },
    /** Who used (issuer, txid) already, if anyone. */
    received: (issuer: number, txid: string): TxidUse | null => camelOrNull(use.get(issuer, txid)),
    /** The same job claims its txid again: the row records the newer document. */
    updateReceived: (r: Omit<ReceivedProofRow, "replyJson" | "jobId" | "now">): void => {
      update.run(r.document, r.signature, r.sigForm, r.outcome, r.issuer, r.txid);
    },
    /** A plain insert: a unique violation when (issuer, txid) is held already (claimReceived decides instead). */
    insertReceived: (r: ReceivedProofRow): void => {
      insert.run(r.issuer, r.txid, r.document, r.signature, r.sigForm, r.outcome, r.replyJson, r.jobId, r.now);
    },
    /** Records (issuer, txid) as `r`'s unless someone holds it already: true iff this call took it. */
    claimReceived: (r: ReceivedProofRow): boolean =>
      claim.get(r.issuer, r.txid, r.document, r.signature, r.sigForm, r.outcome, r.replyJson, r.jobId, r.now) !== null,
    /** A /transfer/webhook answer, stored once: a row a settlement job already owns keeps no stored reply. */
    recordWebhookReply: (r: Omit<ReceivedProofRow, "jobId">): void => {
      reply.run(r.issuer, r.txid, r.document, r.signature, r.sigForm, r.outcome, r.replyJson, r.now);
    },
  };
}
export type Proofs = ReturnType<typeof proofs>;
