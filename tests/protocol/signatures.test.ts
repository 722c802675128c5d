// Keys and signatures beyond the fixed vectors (§3): random round trips, tampering, and every parse rejection.
import { describe, expect, test } from "bun:test";
import * as secp from "@noble/secp256k1";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
// @noble/secp256k1 is the independent reference here (the gateway signs with @noble/curves); it needs its hash hooks.
secp.hashes.sha256 = nobleSha256;
secp.hashes.hmacSha256 = (k: Uint8Array, m: Uint8Array) => nobleHmac(nobleSha256, k, m);
import { sha256Bytes } from "../../src/protocol/hash";
import { bytesToHex, hexToBytes, randomHex } from "../../src/protocol/hex";
import { generatePrivateKeyHex, parsePrivateKey, parsePublicKey, publicKeyHex } from "../../src/protocol/keys";
import { parseSignature, signString, verifyDigest, verifyString } from "../../src/protocol/signatures";

const N = secp.Point.CURVE().n;
const hex32 = (n: bigint) => n.toString(16).padStart(64, "0");
const ROUNDS = 50;

type KeyPair = { skHex: string; sk: Uint8Array; pubHex: string; pub: Uint8Array };
function newKey(): KeyPair {
  const skHex = generatePrivateKeyHex();
  const sk = parsePrivateKey(skHex);
  if (!sk) throw new Error("generated key does not parse");
  const pubHex = publicKeyHex(sk);
  const p = parsePublicKey(pubHex);
  if (!p.ok) throw new Error("own public key does not parse: " + p.reason);
  return { skHex, sk, pubHex, pub: p.point };
}

const ALPHABET = "abcXYZ019 {}\":,.-_\n\t\\€é😀\u2028";
function randomMessage(): string {
  const len = Math.floor(Math.random() * 200);
  let s = "";
  for (let i = 0; i < len; i++) s += [...ALPHABET][Math.floor(Math.random() * [...ALPHABET].length)];
  return s;
}
/** An ASCII message, so flipping one of the low 7 bits of one character keeps a valid, different string. */
const randomAscii = () => randomHex(1 + Math.floor(Math.random() * 100));
function flipMessageBit(m: string): string {
  const i = Math.floor(Math.random() * m.length);
  const bit = 1 << Math.floor(Math.random() * 7);
  return m.slice(0, i) + String.fromCharCode(m.charCodeAt(i) ^ bit) + m.slice(i + 1);
}
/** Flip one bit inside r‖s (the first 64 bytes) of a 130-hex signature. */
function flipSignatureBit(sig: string): string {
  const b = hexToBytes(sig)!;
  const i = Math.floor(Math.random() * 64);
  b[i] = b[i]! ^ (1 << Math.floor(Math.random() * 8));
  return bytesToHex(b);
}
function toDer(compactHex: string): string {
  const int = (h: string) => {
    const b = [...hexToBytes(h)!];
    while (b.length > 1 && b[0] === 0) b.shift();
    if (b[0]! >= 0x80) b.unshift(0);
    return b;
  };
  const r = int(compactHex.slice(0, 64));
  const s = int(compactHex.slice(64, 128));
  return bytesToHex(Uint8Array.from([0x30, 4 + r.length + s.length, 0x02, r.length, ...r, 0x02, s.length, ...s]));
}

describe("random keys: sign → verify", () => {
  const keys = Array.from({ length: ROUNDS }, newKey);

  test("keys are distinct, well-formed and re-parse in every public encoding", () => {
    expect(new Set(keys.map((k) => k.skHex)).size).toBe(ROUNDS);
    for (const k of keys) {
      expect(k.skHex).toMatch(/^[0-9a-f]{64}$/);
      expect(k.pubHex).toMatch(/^[0-9a-f]{128}$/);
      expect(k.pub.length).toBe(65);
      expect(bytesToHex(k.pub)).toBe("04" + k.pubHex);
      const compressed = bytesToHex(secp.getPublicKey(k.sk, true));
      for (const form of ["04" + k.pubHex, compressed, k.pubHex.toUpperCase()]) {
        const p = parsePublicKey(form);
        expect(p.ok && bytesToHex(p.point)).toBe("04" + k.pubHex);
      }
      expect(bytesToHex(parsePrivateKey(k.skHex.toUpperCase())!)).toBe(k.skHex);
    }
  });

  test(`${ROUNDS} round trips; one flipped bit (message or signature) or another key fails`, () => {
    for (let i = 0; i < ROUNDS; i++) {
      const k = keys[i]!;
      const other = keys[(i + 1) % ROUNDS]!;
      const msg = i % 2 === 0 ? randomMessage() : randomAscii();
      const sig = signString(msg, k.sk);
      expect(sig).toMatch(/^[0-9a-f]{128}(1b|1c)$/);
      expect(signString(msg, k.sk)).toBe(sig); // deterministic (RFC 6979)
      const s = BigInt("0x" + sig.slice(64, 128));
      expect(s <= N / 2n).toBe(true); // we emit low-S
      expect(verifyString(msg, sig, k.pub)).toBe(true);
      // every accepted encoding of the same signature verifies too
      expect(verifyString(msg, sig.slice(0, 128), k.pub)).toBe(true);
      expect(verifyString(msg, toDer(sig), k.pub)).toBe(true);
      expect(verifyString(msg, sig.toUpperCase(), k.pub)).toBe(true);

      const asciiMsg = randomAscii();
      const asciiSig = signString(asciiMsg, k.sk);
      const flipped = flipMessageBit(asciiMsg);
      expect(flipped).not.toBe(asciiMsg);
      expect(verifyString(flipped, asciiSig, k.pub)).toBe(false);
      expect(verifyString(asciiMsg, flipSignatureBit(asciiSig), k.pub)).toBe(false);
      expect(verifyString(asciiMsg, asciiSig, other.pub)).toBe(false);
      expect(verifyString(msg, sig, other.pub)).toBe(false);
    }
  });

  test("the high-S variant (s' = n − s) of a random signature verifies (§3.3 accepts high-S)", () => {
    for (let i = 0; i < 10; i++) {
      const k = keys[i]!;
      const msg = randomMessage();
      const sig = signString(msg, k.sk);
      const s = BigInt("0x" + sig.slice(64, 128));
      const highS = sig.slice(0, 64) + hex32(N - s);
      expect(N - s > N / 2n).toBe(true);
      expect(verifyString(msg, highS, k.pub)).toBe(true);
      expect(verifyString(msg, highS + "1b", k.pub)).toBe(true);
      expect(verifyString(msg, toDer(highS), k.pub)).toBe(true);
      // noble's own default (lowS: true) would have rejected it
      expect(secp.verify(hexToBytes(highS)!, sha256Bytes(msg), k.pub, { prehash: false })).toBe(false);
    }
  });
});

describe("parsePrivateKey", () => {
  test("rejects wrong length, bad hex, 0, n and above; accepts 1 and n−1", () => {
    const k = generatePrivateKeyHex();
    expect(parsePrivateKey(k.slice(1))).toBeNull();
    expect(parsePrivateKey(k + "0")).toBeNull();
    expect(parsePrivateKey(k.slice(2))).toBeNull();
    expect(parsePrivateKey("zz" + k.slice(2))).toBeNull();
    expect(parsePrivateKey("")).toBeNull();
    expect(parsePrivateKey(hex32(0n))).toBeNull();
    expect(parsePrivateKey(hex32(N))).toBeNull();
    expect(parsePrivateKey(hex32(N + 1n))).toBeNull();
    expect(parsePrivateKey("f".repeat(64))).toBeNull();
    expect(parsePrivateKey(hex32(1n))).not.toBeNull();
    expect(parsePrivateKey(hex32(N - 1n))).not.toBeNull();
  });
});

describe("parsePublicKey", () => {
  const k = newKey();
  const compressed = bytesToHex(secp.getPublicKey(k.sk, true));
  test.each([
    ["non-string", 42 as unknown as string, "not_a_string"],
    ["empty", "", "wrong_length"],
    ["127 hex", k.pubHex.slice(1), "wrong_length"],
    ["64 hex (x only)", k.pubHex.slice(0, 64), "wrong_length"],
    ["130 hex, prefix 03", "03" + k.pubHex, "bad_prefix"],
    ["66 hex, prefix 04", "04" + k.pubHex.slice(0, 64), "bad_prefix"],
    ["128 with non-hex", "g" + k.pubHex.slice(1), "bad_hex"],
    ["y flipped (off curve)", k.pubHex.slice(0, 127) + (k.pubHex.endsWith("0") ? "1" : "0"), "not_on_curve"],
  ])("%s → %s", (_name, input, reason) => {
    expect(parsePublicKey(input)).toEqual({ ok: false, reason });
  });
  test("02/03 prefix: the other parity decompresses to the negated point, not ours", () => {
    const otherParity = (compressed.startsWith("02") ? "03" : "02") + compressed.slice(2);
    const p = parsePublicKey(otherParity);
    expect(p.ok).toBe(true);
    if (p.ok) expect(bytesToHex(p.point)).not.toBe("04" + k.pubHex);
  });
});

describe("parseSignature rejection reasons", () => {
  const k = newKey();
  const msg = "parse me";
  const sig = signString(msg, k.sk);
  const r = sig.slice(0, 64);
  const s = sig.slice(64, 128);
  const der = toDer(sig);

  test("sanity: the unmodified encodings parse", () => {
    expect(parseSignature(sig)).toMatchObject({ ok: true, encoding: "rsv" });
    expect(parseSignature(r + s)).toMatchObject({ ok: true, encoding: "compact" });
    expect(parseSignature(der)).toMatchObject({ ok: true, encoding: "der" });
    const p = parseSignature(der);
    expect(p.ok && bytesToHex(p.compact)).toBe(r + s);
    expect(verifyString(msg, der, k.pub)).toBe(true);
  });

  // DER pieces built by hand: 30 L 02 Lr R 02 Ls S
  const derOf = (rBytes: string, sBytes: string, extra = "") => {
    const body = "02" + (rBytes.length / 2).toString(16).padStart(2, "0") + rBytes + "02" + (sBytes.length / 2).toString(16).padStart(2, "0") + sBytes + extra;
    return "30" + (body.length / 2).toString(16).padStart(2, "0") + body;
  };
  const small = "01".repeat(32); // a positive 32-byte integer with top bit clear, well below n

  test.each([
    ["non-string", 123, "empty"],
    ["undefined", undefined, "empty"],
    ["empty", "", "empty"],
    ["odd length (129)", sig.slice(0, 129), "wrong_length"],
    ["even but no encoding (126)", sig.slice(0, 126), "wrong_length"],
    ["even, too long (132)", sig + "00", "wrong_length"],
    ["bad hex", "zz" + sig.slice(2), "bad_hex"],
    ["v = 1d", r + s + "1d", "bad_v"],
    ["v = 02", r + s + "02", "bad_v"],
    ["r = 0 (rsv)", hex32(0n) + s + "1b", "scalar_out_of_range"],
    ["s = 0 (compact)", r + hex32(0n), "scalar_out_of_range"],
    ["r = n", hex32(N) + s, "scalar_out_of_range"],
    ["s = n", r + hex32(N) + "1c", "scalar_out_of_range"],
    ["r > n", hex32(N + 5n) + s, "scalar_out_of_range"],
    ["s = 2^256 − 1", r + "f".repeat(64), "scalar_out_of_range"],
    ["DER non-minimal (00 before a byte < 0x80)", derOf("00" + small, small), "der_not_minimal"],
    ["DER non-minimal zero-padded s", derOf(small, "00" + small.slice(2)), "der_not_minimal"],
    ["DER trailing bytes inside the sequence", derOf(small, small, "00"), "der_trailing_bytes"],
    ["DER trailing bytes after the sequence", derOf(small, small) + "00", "der_bad_length"],
    ["DER negative r", derOf("81" + small.slice(2), small), "der_negative"],
    ["DER negative s", derOf(small, "ff" + small.slice(2)), "der_negative"],
    ["DER r = 0", derOf("00", small), "der_not_minimal"],
    ["DER integer too long (34 bytes)", derOf("0001" + small, small), "der_bad_int_length"],
    ["DER zero-length integer", derOf("", small), "der_bad_int_length"],
    ["DER wrong integer tag", derOf(small, small).replace(/^(30..)02/, "$103"), "der_bad_int_tag"],
    ["DER long-form length", "3081" + derOf(small, small).slice(4), "der_bad_length"],
    ["DER r ≥ n (33 bytes, padded)", derOf("00" + hex32(N), small), "scalar_out_of_range"],
    ["starts 31 (not DER)", "31" + der.slice(2), "wrong_length"],
  ])("%s → %s", (_name, input, reason) => {
    const p = parseSignature(input);
    expect(p).toEqual({ ok: false, reason });
    expect(verifyString(msg, input, k.pub)).toBe(false);
  });

  test("the hand-built DER helper produces a valid DER that parses", () => {
    expect(parseSignature(derOf(small, small))).toMatchObject({ ok: true, encoding: "der" });
    expect(derOf(small, small)).toBe(toDer(small + small));
  });

  test("v is ignored when allowed: 1b, 1c, 00, 01 (any case) all verify", () => {
    for (const v of ["1b", "1c", "00", "01", "1B", "1C"]) expect(verifyString(msg, r + s + v, k.pub)).toBe(true);
  });

  test("verifyDigest never throws on a bad point", () => {
    const p = parseSignature(sig);
    if (!p.ok) throw new Error("unreachable");
    expect(verifyDigest(sha256Bytes(msg), p.compact, new Uint8Array(65))).toBe(false);
    expect(verifyDigest(sha256Bytes(msg), p.compact, k.pub)).toBe(true);
    expect(verifyDigest(sha256Bytes(msg + "x"), p.compact, k.pub)).toBe(false);
  });
});
