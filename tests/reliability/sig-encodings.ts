// Re-encodings of a 130-hex r‖s‖v signature (SPEC §3.3), written independently of src/: the ones a verifier
// MUST accept (same r and s, other spelling; high-S) and the ones it MUST refuse.
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const h64 = (n: bigint) => n.toString(16).padStart(64, "0");

/** The minimal positive DER integer body of a 64-hex scalar. */
function intBody(hex64: string): string {
  let b = hex64.replace(/^(00)+/, "");
  if (b === "") b = "00";
  if (parseInt(b.slice(0, 2), 16) >= 0x80) b = "00" + b;
  return b;
}

const len = (hex: string) => (hex.length / 2).toString(16).padStart(2, "0");

function derRaw(rBody: string, sBody: string): string {
  const body = "02" + len(rBody) + rBody + "02" + len(sBody) + sBody;
  return "30" + len(body) + body;
}

export function der(r: string, s: string): string {
  return derRaw(intBody(r), intBody(s));
}

export type Encoding = { name: string; sig: string; valid: boolean };

/** Every re-encoding of `sig130` (the signer's real 130-hex signature), each labelled valid or not. */
export function encodings(sig130: string): Encoding[] {
  const r = sig130.slice(0, 64);
  const s = sig130.slice(64, 128);
  const v = sig130.slice(128);
  const highS = h64(N - BigInt("0x" + s));
  const otherV = v === "1b" ? "1c" : "1b";
  const d = der(r, s);
  return [
    { name: "as signed", sig: sig130, valid: true },
    { name: "uppercase", sig: sig130.toUpperCase(), valid: true },
    { name: "v=00", sig: r + s + "00", valid: true },
    { name: "v=01", sig: r + s + "01", valid: true },
    { name: "wrong recovery v", sig: r + s + otherV, valid: true },
    { name: "compact 128", sig: r + s, valid: true },
    { name: "DER", sig: d, valid: true },
    { name: "high-S", sig: r + highS + v, valid: true },
    { name: "high-S compact", sig: r + highS, valid: true },
    { name: "high-S DER", sig: der(r, highS), valid: true },
    { name: "v=1d", sig: r + s + "1d", valid: false },
    { name: "v=ff", sig: r + s + "ff", valid: false },
    { name: "v=02", sig: r + s + "02", valid: false },
    { name: "129 chars", sig: sig130.slice(0, 129), valid: false },
    { name: "131 chars", sig: sig130 + "0", valid: false },
    { name: "132 chars", sig: sig130 + "00", valid: false },
    { name: "126 chars", sig: sig130.slice(0, 126), valid: false },
    { name: "non-hex", sig: "zz" + sig130.slice(2), valid: false },
    { name: "0x prefix", sig: "0x" + sig130.slice(2), valid: false },
    { name: "empty-ish", sig: "00", valid: false },
    { name: "DER trailing byte", sig: d + "00", valid: false },
    { name: "DER long-form length", sig: "3081" + d.slice(2), valid: false },
    { name: "DER wrong total length", sig: "30" + (parseInt(d.slice(2, 4), 16) + 1).toString(16).padStart(2, "0") + d.slice(4), valid: false },
    { name: "DER non-minimal r", sig: derRaw("00" + intBody(r), intBody(s)), valid: false },
    { name: "DER negative s", sig: derRaw(intBody(r), (parseInt(s.slice(0, 2), 16) | 0x80).toString(16) + s.slice(2)), valid: false },
    { name: "DER bad int tag", sig: d.slice(0, 4) + "03" + d.slice(6), valid: false },
    { name: "r = 0", sig: h64(0n) + s + v, valid: false },
    { name: "s = 0", sig: r + h64(0n) + v, valid: false },
    { name: "r = n", sig: h64(N) + s + v, valid: false },
    { name: "s = n", sig: r + h64(N) + v, valid: false },
    { name: "s = n + s", sig: r + h64((N + BigInt("0x" + s)) % 2n ** 256n) + v, valid: false },
    { name: "r and s swapped", sig: s + r + v, valid: false },
    { name: "s tampered", sig: r + h64(BigInt("0x" + s) ^ 1n) + v, valid: false },
    { name: "all ff", sig: "f".repeat(130), valid: false },
    { name: "1026 hex", sig: "a".repeat(1026), valid: false },
  ];
}
