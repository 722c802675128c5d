// Byte/hex/UTF-8 helpers shared by every protocol module. Pure; no I/O.
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Buffer's codecs are native in Bun and Node; profiling showed the hand loops at ~50 µs per submit.
export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Strict: even length, hex digits only (case-insensitive). Returns null otherwise. */
export function hexToBytes(h: string): Uint8Array | null {
  if (!HEX_RE.test(h)) return null;
  return new Uint8Array(Buffer.from(h, "hex"));
}

export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + bytesToHex(b));
}

export function bigIntTo32Bytes(n: bigint): Uint8Array {
  return hexToBytes(n.toString(16).padStart(64, "0"))!;
}

export const randomHex = (bytes: number): string => bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)));
