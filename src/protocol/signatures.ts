import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bigIntTo32Bytes, bytesToBigInt, bytesToHex, hexToBytes } from "./hex";
import { sha256Bytes } from "./hash";

const { Point } = secp256k1;
const Fn = Point.Fn;
const N = Fn.ORDER;

export type ParsedSignature =
  | { ok: true; r: bigint; s: bigint; compact: Uint8Array; encoding: "rsv" | "compact" | "der" }
  | { ok: false; reason: string };

/** Signs SHA-256(UTF-8 of s) once (prehash off: we hash ourselves) and returns 130-hex r‖s‖v (§3.2). */
export function signString(s: string, sk: Uint8Array): string {
  return signDigest(sha256Bytes(s), sk);
}

/** signString's second half: a 32-byte digest → 130-hex r‖s‖v (also run on the crypto workers). */
export function signDigest(digest: Uint8Array, sk: Uint8Array): string {
  const rec = secp256k1.sign(digest, sk, { prehash: false, format: "recovered" });
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
  return { ok: true, r, s, compact, encoding };
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
    if (l === undefined || l < 1 || l > 33 || pos + 2 + l > b.length)
      return { ok: false, reason: "der_bad_int_length" };
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
  if (sig.length === 128)
    return fromScalars(bytesToBigInt(bytes.subarray(0, 32)), bytesToBigInt(bytes.subarray(32)), "compact");
  if (sig.length >= 16 && sig.length <= 144 && bytes[0] === 0x30) return parseDer(bytes);
  return { ok: false, reason: "wrong_length" };
}

/** Verifies sig over SHA-256(UTF-8 of s) with the 65-byte point; high-S accepted (§3.3); never throws. */
export function verifyString(s: string, sig: unknown, pub65: Uint8Array): boolean {
  const parsed = parseSignature(sig);
  if (!parsed.ok) return false;
  return verifyDigest(sha256Bytes(s), parsed, pub65);
}

/**
 * ECDSA verification written on the curve's points so the signer's point can be cached and given a
 * precomputed multiplication table: keys repeat (a merchant signs every request and order), and verification
 * handles no secrets, so the variable-time `multiplyUnsafe` is fine. Accepts high-S (no low-S rule, §3.3).
 */
export function verifyDigest(
  digest: Uint8Array,
  sig: { r: bigint; s: bigint } | Uint8Array,
  pub65: Uint8Array,
): boolean {
  try {
    const { r, s } =
      sig instanceof Uint8Array
        ? { r: bytesToBigInt(sig.subarray(0, 32)), s: bytesToBigInt(sig.subarray(32, 64)) }
        : sig;
    if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
    const P = cachedPoint(pub65);
    const w = Fn.inv(s);
    const e = Fn.create(bytesToBigInt(digest));
    const R = Point.BASE.multiplyUnsafe(Fn.mul(e, w)).add(P.multiplyUnsafe(Fn.mul(r, w)));
    if (R.equals(Point.ZERO)) return false;
    return Fn.create(R.toAffine().x) === r;
  } catch {
    return false;
  }
}

// ---- per-key point cache: bounded LRU; a key seen twice gets a precomputed table (window 6: ~7 ms, ~280 KB).
export const POINT_CACHE_SIZE = 256;
const PRECOMPUTE_WINDOW = 6;
type Cached = { point: InstanceType<typeof Point>; uses: number };
const points = new Map<string, Cached>();

function cachedPoint(pub65: Uint8Array): InstanceType<typeof Point> {
  const key = bytesToHex(pub65);
  let c = points.get(key);
  if (c) points.delete(key);
  else {
    c = { point: Point.fromBytes(pub65), uses: 0 };
    if (points.size >= POINT_CACHE_SIZE) points.delete(points.keys().next().value!);
  }
  points.set(key, c);
  if (++c.uses === 2) c.point.precompute(PRECOMPUTE_WINDOW, false);
  return c.point;
}
