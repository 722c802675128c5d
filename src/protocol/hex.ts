// Byte/hex/UTF-8 helpers shared by every protocol module. Pure; no I/O.
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function bytesToHex(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i++) out += b[i]!.toString(16).padStart(2, "0");
  return out;
}

/** Strict: even length, hex digits only (case-insensitive). Returns null otherwise. */
export function hexToBytes(h: string): Uint8Array | null {
  if (!HEX_RE.test(h)) return null;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + bytesToHex(b));
}

export function bigIntTo32Bytes(n: bigint): Uint8Array {
  return hexToBytes(n.toString(16).padStart(64, "0"))!;
}

export const randomHex = (bytes: number): string => bytesToHex(crypto.getRandomValues(new Uint8Array(bytes)));
