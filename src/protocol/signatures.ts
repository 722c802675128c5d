import * as secp from "@noble/secp256k1";
import { bigIntTo32Bytes, bytesToBigInt, bytesToHex, hexToBytes } from "./hex";
import { sha256Bytes } from "./hash";
import "./noble-setup";

const N = secp.Point.CURVE().n;

export type ParsedSignature = { ok: true; compact: Uint8Array; encoding: "rsv" | "compact" | "der" } | { ok: false; reason: string };

/** Signs SHA-256(UTF-8 of s) once (prehash off: we hash ourselves) and returns 130-hex r‖s‖v (§3.2). */
export function signString(s: string, sk: Uint8Array): string {
  const rec = secp.sign(sha256Bytes(s), sk, { prehash: false, format: "recovered" });
  return bytesToHex(rec.subarray(1)) + (27 + rec[0]!).toString(16);
}

function scalarsInRange(r: bigint, s: bigint): boolean {
  return r > 0n && r < N && s > 0n && s < N;
}

function fromScalars(r: bigint, s: bigint, encoding: "rsv" | "compact" | "der"): ParsedSignature {
  if (!scalarsInRange(r, s)) return { ok: false, reason: "scalar_out_of_range" };
  const compact = new Uint8Array(64);
  compact.set(bigIntTo32Bytes(r), 0);
  compact.set(bigIntTo32Bytes(s), 32);
  return { ok: true, compact, encoding };
}

/** Strict DER per §3.3: 30 L 02 Lr R 02 Ls S, short-form lengths, minimal positive integers, no trailing bytes. */
function parseDer(b: Uint8Array): ParsedSignature {
  if (b[0] !== 0x30) return { ok: false, reason: "der_bad_tag" };
  const len = b[1];
  if (len === undefined || len >= 0x80 || len !== b.length - 2) return { ok: false, reason: "der_bad_length" };
  let pos = 2;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (b[pos] !== 0x02) return { ok: false, reason: "der_bad_int_tag" };
    const l = b[pos + 1];
    if (l === undefined || l < 1 || l > 33 || pos + 2 + l > b.length) return { ok: false, reason: "der_bad_int_length" };
    const v = b.subarray(pos + 2, pos + 2 + l);
    if (v[0]! >= 0x80) return { ok: false, reason: "der_negative" };
    if (v[0] === 0x00 && (l === 1 || v[1]! < 0x80)) return { ok: false, reason: "der_not_minimal" };
    ints.push(bytesToBigInt(v));
    pos += 2 + l;
  }
  if (pos !== b.length) return { ok: false, reason: "der_trailing_bytes" };
  return fromScalars(ints[0]!, ints[1]!, "der");
}

/** Every encoding of §3.3 → 64 compact bytes, or a reason for rejecting it. */
export function parseSignature(sig: unknown): ParsedSignature {
  if (typeof sig !== "string" || sig.length === 0) return { ok: false, reason: "empty" };
  if (sig.length % 2 !== 0) return { ok: false, reason: "wrong_length" };
  const bytes = hexToBytes(sig);
  if (!bytes) return { ok: false, reason: "bad_hex" };
  if (sig.length === 130) {
    const v = bytes[64]!;
    if (v !== 0x1b && v !== 0x1c && v !== 0x00 && v !== 0x01) return { ok: false, reason: "bad_v" };
    return fromScalars(bytesToBigInt(bytes.subarray(0, 32)), bytesToBigInt(bytes.subarray(32, 64)), "rsv");
  }
  if (sig.length === 128) return fromScalars(bytesToBigInt(bytes.subarray(0, 32)), bytesToBigInt(bytes.subarray(32)), "compact");
  if (sig.length >= 16 && sig.length <= 144 && bytes[0] === 0x30) return parseDer(bytes);
  return { ok: false, reason: "wrong_length" };
}

/** Verifies sig over SHA-256(UTF-8 of s) with the 65-byte point; high-S accepted (§3.3); never throws. */
export function verifyString(s: string, sig: unknown, pub65: Uint8Array): boolean {
  const parsed = parseSignature(sig);
  if (!parsed.ok) return false;
  return verifyDigest(sha256Bytes(s), parsed.compact, pub65);
}

export function verifyDigest(digest: Uint8Array, compact: Uint8Array, pub65: Uint8Array): boolean {
  try {
    return secp.verify(compact, digest, pub65, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}
