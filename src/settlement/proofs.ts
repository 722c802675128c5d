// §13.2 proofs we issue: only for transfers already in our ledger (call inside that transaction), signed in the
// deep form, stored with their canonical string, and never re-created for the same transfer.
// Issue 12: the proof also carries top-level `ocid`/`reference` = `to.ocid`/`to.reference`, so the docs'
// replacer form (`JSON.stringify(proof, Object.keys(proof).sort())`, whose allow-list applies at every depth) keeps
// every key inside `from`/`to`: both forms are then the same bytes, one signature verifies under either, and it
// still binds sender and recipient. The signature is in the recipient's dialect.
import { randomHex } from "../protocol/hex";
import { signObjectAs } from "../protocol/signed-objects";
import { canonReplacer } from "../protocol/canonical";
import { SPEC_DIALECT, type SignDialect } from "../protocol/dialects";
import { proofs } from "../store/proofs";
import type { Tx } from "../store";

export type IssuedProof = { proof: Record<string, unknown>; signature: string; txid: string; body: string };

export type ProofFields = {
  issuer: number;
  from: { ocid: number; reference?: string };
  to: { ocid: number; reference?: string };
  amount: string;
  currency: string;
  timestamp: number;
  memo?: string;
};

function withoutEmpty<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== "")) as T;
}

export class ProofFormsDiffer extends Error {}

/** Our txids are `tx_` + 32 hex digits (§12.6). */
const TXID_BYTES = 16;

/** Where an issued proof is stored: an open transaction's proofs, or a database handle (wrapped; tests hold one). */
type ProofSink = Pick<Tx["proofs"], "insertIssued"> | Parameters<typeof proofs>[0];
const sinkOf = (s: ProofSink) => ("insertIssued" in s ? s : proofs(s));

export async function issueProof(
  store: ProofSink,
  sk: Uint8Array,
  f: ProofFields,
  orderId: number | null,
  dialect: SignDialect = SPEC_DIALECT,
): Promise<IssuedProof> {
  const txid = "tx_" + randomHex(TXID_BYTES);
  // Both references always set (a missing one names the transfer itself): a `reference` key inside `from` with
  // none at the top level would be dropped by the replacer form.
  const to = { ocid: f.to.ocid, reference: f.to.reference || txid };
  const proof = withoutEmpty({
    txid,
    issuer: f.issuer,
    ocid: to.ocid,
    reference: to.reference,
    from: { ocid: f.from.ocid, reference: f.from.reference || txid },
    to,
    amount: f.amount,
    currency: f.currency,
    timestamp: f.timestamp,
    memo: f.memo,
  });
  const { canonical, signature } = signObjectAs(proof, sk, dialect);
  if (canonReplacer(proof) !== canonical)
    throw new ProofFormsDiffer("issued proof: replacer form differs from the deep form");
  const proofJson = JSON.stringify(proof);
  await sinkOf(store).insertIssued({ txid, proofJson, signature, canonical, orderId, now: f.timestamp });
  return { proof, signature, txid, body: JSON.stringify({ proof, signature }) };
}
