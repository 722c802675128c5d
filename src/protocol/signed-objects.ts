import { canonDeep, canonReplacer } from "./canonical";
import { signString, verifyString } from "./signatures";

export type SigForm = "deep" | "replacer";

/** Signs an order/proof/config in the deep form (the only form we produce, §5.4). */
export function signObject(obj: unknown, sk: Uint8Array): { canonical: string; signature: string } {
  const canonical = canonDeep(obj);
  return { canonical, signature: signString(canonical, sk) };
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
