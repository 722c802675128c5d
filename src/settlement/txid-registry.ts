// One (issuer, txid) names one movement (§12.5, §13.3 step 9), whatever path saw it first: a settlement job's final
// proof, any intermediate proof of the third-party path (the provider's transfer), the payment reference a
// merchant gateway hands out at payment.create, or a credit posted to /transfer/webhook. Every path that accepts
// something a peer identifies by (issuer, txid) claims it here, inside the transaction that acts on it; a lying
// peer that hands the same txid to two jobs, or to a job and a credit, gets the second use refused.
import type { Tx } from "../store";
import type { TxidUse } from "../store/proofs";

export type { TxidUse };

/** What a claim records: the proof (or payment reply) as received, and the job or credit that used it. */
export type TxidClaim = {
  issuer: number;
  txid: string;
  jobId: string | null;
  /** The proof JSON as received; for a payment reference, the payment.create reply. */
  document: string;
  signature: string;
  sigForm: string;
  /** 'settlement' (a proof a job used), 'payment_ref' (payment.create txid), or a credit's reply status. */
  outcome: string;
  replyJson?: string | null;
  now: number;
};

export type ClaimResult = "fresh" | "same_job" | "taken";

type ProofsTx = Pick<Tx["proofs"], "received" | "claimReceived" | "updateReceived">;

export const txidUse = (proofs: ProofsTx, issuer: number, txid: string): Promise<TxidUse | null> =>
  proofs.received(issuer, txid);

/**
 * Call inside the transaction that acts on the txid. Claim-first: the insert decides, so two concurrent claims of
 * one txid cannot both be "fresh" whatever the engine. A job may claim its own txid again (a retried step, or a
 * gateway whose final proof reuses its payment reference): the row then records the newer document. Anything
 * else already holding the txid — another job, a credit, an unknown-reference rejection — makes it "taken".
 */
export async function claimTxid(proofs: ProofsTx, c: TxidClaim): Promise<ClaimResult> {
  if (await proofs.claimReceived({ ...c, replyJson: c.replyJson ?? null })) return "fresh";
  const use = await txidUse(proofs, c.issuer, c.txid);
  if (!use || c.jobId === null || use.jobId !== c.jobId) return "taken";
  await proofs.updateReceived(c);
  return "same_job";
}
