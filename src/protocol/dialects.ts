// Issue 12: the signature dialects peers written from the public docs speak. SPEC §3.2 is what we publish
// (130-hex r‖s‖v over one SHA-256); when we sign *for* a peer we mirror what it verifies, because no single
// encoding satisfies every library (noble 2/3 and the npm `secp256k1` SDK read only 64-byte compact, noble 1.7
// and `elliptic` only DER or compact, node:crypto only DER, ethers needs r‖s‖v to recover). Pure.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8 } from "./hex";

export const SIG_ENCODINGS = ["rsv130", "compact128", "der"] as const;
export const HASH_MODES = ["sha256", "double-sha256"] as const;
export const CANONICAL_FORMS = ["deep", "replacer"] as const;
export type SigEncoding = (typeof SIG_ENCODINGS)[number];
/** `double-sha256`: a noble 3.x signer that passed SHA-256(m) with `prehash: true` left on (SPEC §3.4 pitfall 2). */
export type HashMode = (typeof HASH_MODES)[number];
export type SignDialect = { encoding: SigEncoding; hash: HashMode };

export const SPEC_DIALECT: SignDialect = { encoding: "rsv130", hash: "sha256" };

/**
 * The order in which an unobserved peer's dialect is guessed after a signature-related webhook rejection:
 * single-hash encodings first (what correct code verifies), double hash last.
 */
export const PLAUSIBLE_DIALECTS: readonly SignDialect[] = [
  { encoding: "rsv130", hash: "sha256" },
  { encoding: "compact128", hash: "sha256" },
  { encoding: "der", hash: "sha256" },
  { encoding: "compact128", hash: "double-sha256" },
  { encoding: "der", hash: "double-sha256" },
  { encoding: "rsv130", hash: "double-sha256" },
];

export const sameDialect = (a: SignDialect, b: SignDialect) => a.encoding === b.encoding && a.hash === b.hash;

/** The next plausible dialect after `current`, skipping those already `tried`; null once all were tried. */
export function nextPlausible(current: SignDialect, tried: readonly SignDialect[] = []): SignDialect | null {
  const start = PLAUSIBLE_DIALECTS.findIndex((d) => sameDialect(d, current));
  for (let k = 1; k <= PLAUSIBLE_DIALECTS.length; k++) {
    const d = PLAUSIBLE_DIALECTS[(start + k) % PLAUSIBLE_DIALECTS.length]!;
    if (!sameDialect(d, current) && !tried.some((t) => sameDialect(t, d))) return d;
  }
  return null;
}

/** The digest a signature in this hash mode is over. */
export function digestOf(message: string, hash: HashMode): Uint8Array {
  const once = sha256(utf8(message));
  return hash === "double-sha256" ? sha256(once) : once;
}

/** Signs `message` in `dialect` (RFC 6979, low-S, as SPEC §3.1 wants whatever the encoding). */
export function signAs(message: string, sk: Uint8Array, dialect: SignDialect): string {
  const rec = secp256k1.sign(digestOf(message, dialect.hash), sk, { prehash: false, format: "recovered" });
  const compact = rec.subarray(1);
  if (dialect.encoding === "rsv130") return bytesToHex(compact) + (27 + rec[0]!).toString(16);
  if (dialect.encoding === "compact128") return bytesToHex(compact);
  return bytesToHex(secp256k1.Signature.fromBytes(compact, "compact").toBytes("der"));
}

const isOneOf = <T extends string>(list: readonly T[], v: unknown): v is T =>
  typeof v === "string" && (list as readonly string[]).includes(v);
export const isSigEncoding = (v: unknown): v is SigEncoding => isOneOf(SIG_ENCODINGS, v);
export const isHashMode = (v: unknown): v is HashMode => isOneOf(HASH_MODES, v);

/** parseSignature's encoding names → the dialect vocabulary. */
export function encodingName(e: "rsv" | "compact" | "der"): SigEncoding {
  return e === "rsv" ? "rsv130" : e === "compact" ? "compact128" : "der";
}
