import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "./hex";

export type PublicKeyResult = { ok: true; point: Uint8Array } | { ok: false; reason: string };

export function generatePrivateKeyHex(): string {
  return bytesToHex(secp256k1.utils.randomSecretKey());
}

/** Validates a 64-hex private key; returns the 32 bytes or null. */
export function parsePrivateKey(hex: string): Uint8Array | null {
  if (hex.length !== 64) return null;
  const b = hexToBytes(hex);
  if (!b || !secp256k1.utils.isValidSecretKey(b)) return null;
  return b;
}

/** The 128-hex `x‖y` form we publish (§3.2). */
export function publicKeyHex(sk: Uint8Array): string {
  return bytesToHex(secp256k1.getPublicKey(sk, false).subarray(1));
}

/**
 * Accepts 128 hex (x‖y), 130 hex starting 04, or 66 hex starting 02/03 (§3.3);
 * returns the 65-byte uncompressed point, checked to be on the curve.
 */
export function parsePublicKey(s: string): PublicKeyResult {
  if (typeof s !== "string") return { ok: false, reason: "not_a_string" };
  let hex: string;
  if (s.length === 128) hex = "04" + s;
  else if (s.length === 130) {
    if (s.slice(0, 2) !== "04") return { ok: false, reason: "bad_prefix" };
    hex = s;
  } else if (s.length === 66) {
    const p = s.slice(0, 2);
    if (p !== "02" && p !== "03") return { ok: false, reason: "bad_prefix" };
    hex = s;
  } else return { ok: false, reason: "wrong_length" };
  const bytes = hexToBytes(hex);
  if (!bytes) return { ok: false, reason: "bad_hex" };
  try {
    const point = secp256k1.Point.fromBytes(bytes);
    point.assertValidity();
    return { ok: true, point: point.toBytes(false) };
  } catch {
    return { ok: false, reason: "not_on_curve" };
  }
}
