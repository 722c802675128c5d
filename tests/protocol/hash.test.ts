// src/protocol/hash.ts uses Bun's native SHA-256 (issue 20): it must be the SHA-256 of the UTF-8 bytes, as the
// independent @noble/hashes computes it, for bytes and for strings (multi-byte, astral, lone surrogates → U+FFFD).
import { expect, test } from "bun:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { EMPTY_SHA256, sha256Bytes, sha256Hex } from "../../src/protocol/hash";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("sha256 of strings and bytes equals @noble/hashes over the UTF-8 bytes", () => {
  const strings = ["", "abc", "é€𝄞", "\ud800", "a\udc00b", "x".repeat(1000), '{"ocid":500,"amount":"12.50"}'];
  for (let i = 0; i < 200; i++) strings.push(String.fromCharCode(...Array.from({ length: i % 40 }, (_, j) => (i * 7919 + j * 104729) % 0xffff)));
  for (const s of strings) expect({ s, h: sha256Hex(s) }).toEqual({ s, h: hex(sha256(new TextEncoder().encode(s))) });
  for (let n = 0; n < 300; n += 7) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255);
    expect(hex(sha256Bytes(b))).toBe(hex(sha256(b)));
    expect(hex(sha256Bytes(b.subarray(1)))).toBe(hex(sha256(b.subarray(1)))); // a view with an offset
  }
  expect(sha256Hex("")).toBe(EMPTY_SHA256);
  expect(hex(sha256(new Uint8Array(0)))).toBe(EMPTY_SHA256);
});
