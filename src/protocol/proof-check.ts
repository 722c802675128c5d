// §13.3 verification checklist for every proof we receive. Pure: the caller supplies the issuer's key (from the
// directory, never from the proof) and what it expects.
import type { CurrencyTable } from "./currencies";
import { amountsEqual } from "./money";
import { Proof } from "./schemas";
import { compileValidator } from "./validate";
import { verifyObjectSignature, type SigForm } from "./signed-objects";

const validProof = compileValidator(Proof);

export type ProofExpectation = {
  issuer: number;
  to?: { ocid: number; reference?: string };
  amount?: string;
  currency?: string;
};

export type ProofCheck =
  | { ok: true; proof: Proof; form: SigForm; amountTextDiffers: boolean }
  | { ok: false; code: "INVALID_PROOF" | "PROOF_SIGNATURE_INVALID"; reason: string };

/** Structure only (§13.1), so callers can answer INVALID_PROOF before resolving any key. */
export function checkProofStructure(
  proof: unknown,
): { ok: true; proof: Proof } | { ok: false; reason: string; fields: string[] } {
  const v = validProof(proof);
  return v.ok ? { ok: true, proof: v.value } : { ok: false, reason: "structure", fields: v.fields };
}

export function checkProof(
  proof: unknown,
  signature: unknown,
  issuerKey: Uint8Array,
  expect: ProofExpectation,
  opts: { now: number; acceptReplacer: boolean; currencies: CurrencyTable },
): ProofCheck {
  const s = checkProofStructure(proof);
  if (!s.ok) return { ok: false, code: "INVALID_PROOF", reason: "structure" };
  const p = s.proof;
  if (p.issuer !== expect.issuer) return { ok: false, code: "INVALID_PROOF", reason: "issuer_mismatch" };
  const form = verifyObjectSignature(p, signature, issuerKey, opts.acceptReplacer);
  if (!form) return { ok: false, code: "PROOF_SIGNATURE_INVALID", reason: "signature" };
  // Always checked, and mandatory when only the replacer form verified: it leaves `to` unsigned (§5.4).
  if (expect.to && (p.to.ocid !== expect.to.ocid || p.to.reference !== expect.to.reference))
    return { ok: false, code: "INVALID_PROOF", reason: "recipient_mismatch" };
  if (expect.currency !== undefined && p.currency !== expect.currency)
    return { ok: false, code: "INVALID_PROOF", reason: "currency_mismatch" };
  if (expect.amount !== undefined && !amountsEqual(p.amount, expect.amount, p.currency, opts.currencies))
    return { ok: false, code: "INVALID_PROOF", reason: "amount_mismatch" };
  if (p.timestamp > opts.now + 300) return { ok: false, code: "INVALID_PROOF", reason: "future_timestamp" };
  return { ok: true, proof: p, form, amountTextDiffers: expect.amount !== undefined && p.amount !== expect.amount };
}
