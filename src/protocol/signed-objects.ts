import { canonDeep, canonReplacer } from "./canonical";
import { parseSignature, signString, verifyDigest, verifyString } from "./signatures";
import { digestOf, encodingName, signAs, type HashMode, type SigEncoding, type SignDialect } from "./dialects";

export type SigForm = "deep" | "replacer";

/** Signs an order/proof/config in the deep form (the only form we produce, §5.4). */
export function signObject(obj: unknown, sk: Uint8Array): { canonical: string; signature: string } {
  const canonical = canonDeep(obj);
  return { canonical, signature: signString(canonical, sk) };
}

/** Signs in the deep form, in the dialect of the peer it is for (issue 12). */
export function signObjectAs(
  obj: unknown,
  sk: Uint8Array,
  dialect: SignDialect,
): { canonical: string; signature: string } {
  const canonical = canonDeep(obj);
  return { canonical, signature: signAs(canonical, sk, dialect) };
}

export type VerifiedDialect = { form: SigForm; encoding: SigEncoding; hash: HashMode };

/**
 * Which dialect verified, or null: both forms over one SHA-256 first; only when those fail, both over
 * SHA-256(SHA-256(m)) (a noble 3.x signer with prehash left on). The caller records the result, so a double
 * hash is never accepted silently.
 */
export function verifyObjectDialect(
  obj: Record<string, unknown>,
  signature: unknown,
  pub65: Uint8Array,
  acceptReplacer: boolean,
): VerifiedDialect | null {
  const sig = parseSignature(signature);
  if (!sig.ok) return null;
  const forms: [SigForm, string][] = [["deep", canonDeep(obj)]];
  if (acceptReplacer) forms.push(["replacer", canonReplacer(obj)]);
  for (const hash of ["sha256", "double-sha256"] as const)
    for (const [form, canonical] of forms)
      if (verifyDigest(digestOf(canonical, hash), sig, pub65))
        return { form, encoding: encodingName(sig.encoding), hash };
  return null;
}

/** Deep first, then (if allowed) the replacer form. Returns which form verified, or null. */
export function verifyObjectSignature(
  obj: Record<string, unknown>,
  signature: unknown,
  pub65: Uint8Array,
  acceptReplacer: boolean,
): SigForm | null {
  if (verifyString(canonDeep(obj), signature, pub65)) return "deep";
  if (acceptReplacer && verifyString(canonReplacer(obj), signature, pub65)) return "replacer";
  return null;
}
