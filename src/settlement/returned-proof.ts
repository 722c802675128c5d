// §12.5 / §13.3: a proof a peer returned for money we sent (settlement steps, person-to-person sends), checked
// against what we expect, with §2.4's one refetch when the signature fails against a cached key that may be old.
import type { Gateway } from "../gateway";
import { checkProof } from "../protocol/proof-check";
import { KEY_ROTATION_AGE } from "../peers/directory";

export type Signed = { proof: Record<string, unknown>; signature: string };
export type ExpectedProof = {
  issuer: number;
  to: { ocid: number; reference: string };
  amount: string;
  currency: string;
};

/** What checking a returned proof needs of the gateway: the issuer's key, the time, the money rules, the log. */
export type ReturnedProofDeps = Pick<Gateway, "directory" | "clock" | "config" | "currencies" | "log">;

/** Anything off is a reason (the caller treats it as ambiguous + anomaly); never throws. */
export async function verifiedReturnedProof(
  gw: ReturnedProofDeps,
  raw: unknown,
  expected: ExpectedProof,
): Promise<{ ok: true; signed: Signed; form: string } | { ok: false; reason: string }> {
  const body = raw as { proof?: unknown; signature?: unknown } | undefined;
  if (!body || typeof body !== "object" || typeof body.signature !== "string")
    return { ok: false, reason: "response has no proof" };
  const { issuer } = expected;
  let meta;
  try {
    meta = await gw.directory.resolve(issuer);
  } catch {
    return { ok: false, reason: "issuer metadata unavailable" };
  }
  const check = (key: Uint8Array) =>
    checkProof(body.proof, body.signature as string, key, expected, {
      now: gw.clock(),
      acceptReplacer: gw.config.acceptReplacerCanonical,
      currencies: gw.currencies,
    });
  let r = check(meta.publicKey);
  // §2.4 key rotation: a signature failing against a cached key older than 60 s earns one refetch.
  if (!r.ok && r.code === "PROOF_SIGNATURE_INVALID" && gw.clock() - meta.fetchedAt > KEY_ROTATION_AGE) {
    const fresh = await gw.directory.resolve(issuer, { bypassCache: true }).catch(() => null);
    if (fresh) r = check(fresh.publicKey);
  }
  if (!r.ok) return { ok: false, reason: `proof rejected: ${r.reason}` };
  if (r.amountTextDiffers)
    gw.log.info("proof amount differs textually", { issuer, expected: expected.amount, got: r.proof.amount });
  const signed = { proof: body.proof as Record<string, unknown>, signature: body.signature as string };
  return { ok: true, signed, form: r.form };
}
