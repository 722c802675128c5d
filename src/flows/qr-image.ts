// QR images for pay codes and receive codes. `qrcode` encodes the segments chosen here (qrSegments) into the module
// matrix, the mask is chosen here (qrcode's rule, cheaper), and the PNG is written here, 1-bit greyscale, because
// qrcode's own PNG path paints a 300×300 RGBA canvas pixel by pixel and deflates it through pngjs streams: ~10 ms per
// call on the event loop, the whole cost of POST /app/pay (issue 20). Same geometry as qrcode's renderer
// (errorCorrectionLevel M, margin 2, width 300): the pixels are what qrcode draws for the same segments.
import QRCode from "qrcode";

export const QR_OPTIONS = { errorCorrectionLevel: "M", margin: 2, width: 300 } as const;

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

// ---- mask choice (ISO/IEC 18004 §7.8.3), the same rule and result as qrcode's getBestMask: qrcode masks the whole
// matrix eight times through per-module calls (~0.68 ms per pay code, measured 2026-12-02); a byte-per-module
// version of the rule here still cost ~0.43 ms. Every line (row and column) of the unmasked symbol and of each mask
// is packed once into 32-bit words, so a candidate is a XOR of words and each penalty rule a few word operations
// per line: ~0.12 ms for all eight.

type Matrix = { size: number; data: Uint8Array; reservedBit: Uint8Array };

/** Error correction level M's two format bits (M = 00), the only level the gateway draws. */
const EC_LEVEL_M_BITS = 0;
const MASKS = 8;
const MASK_RULES: ((i: number, j: number) => boolean)[] = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (_i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i * j) % 3) + ((i + j) % 2)) % 2 === 0,
];

/**
 * A symbol's lines as bits: module p of line n is bit (p & 31) of word n·stride + (p >> 5); rows are lines
 * 0…size-1, columns lines size…2·size-1. Each line has one more word than it needs, always 0, so a window that
 * runs past the end reads light modules (and is masked off by `belowBits`).
 */
type Packed = Int32Array;
const strideOf = (size: number) => (size >> 5) + 2;

function pack(size: number, modules: Uint8Array): Packed {
  const stride = strideOf(size);
  const out = new Int32Array(2 * size * stride);
  for (let i = 0; i < size; i++)
    for (let j = 0; j < size; j++)
      if (modules[i * size + j] === 1) {
        out[i * stride + (j >> 5)]! |= 1 << (j & 31);
        out[(size + j) * stride + (i >> 5)]! |= 1 << (i & 31);
      }
  return out;
}

/** Per symbol size (the reserved modules depend on the version only): where mask p flips a data module, packed. */
const maskCache = new Map<number, { flat: Uint8Array[]; packed: Packed[] }>();

function masksFor(m: Matrix) {
  let masks = maskCache.get(m.size);
  if (!masks) {
    const flat = MASK_RULES.map((rule) => {
      const out = new Uint8Array(m.size * m.size);
      for (let i = 0; i < m.size; i++)
        for (let j = 0; j < m.size; j++) if (!m.reservedBit[i * m.size + j] && rule(i, j)) out[i * m.size + j] = 1;
      return out;
    });
    masks = { flat, packed: flat.map((f) => pack(m.size, f)) };
    maskCache.set(m.size, masks);
  }
  return masks;
}

/** The 15 format bits: BCH(15,5) of level and mask, XOR 101010000010010 (qrcode's FormatInfo.getEncodedBits). */
function formatBits(mask: number): number {
  const G15 = 0b10100110111;
  const data = (EC_LEVEL_M_BITS << 3) | mask;
  let d = data << 10;
  for (let shift = 31 - Math.clz32(d) - 10; shift >= 0; shift = 31 - Math.clz32(d) - 10) d ^= G15 << shift;
  return ((data << 10) | d) ^ 0b101010000010010;
}

/** Calls `put(row, col, dark)` for every format module, where qrcode's setupFormatInfo writes them. */
function eachFormatModule(size: number, mask: number, put: (row: number, col: number, dark: number) => void): void {
  const bits = formatBits(mask);
  for (let i = 0; i < 15; i++) {
    const mod = (bits >> i) & 1;
    put(i < 6 ? i : i < 8 ? i + 1 : size - 15 + i, 8, mod);
    put(8, i < 8 ? size - i - 1 : i < 9 ? 15 - i : 15 - i - 1, mod);
  }
  put(size - 8, 8, 1);
}

function writeFormat(out: Uint8Array, size: number, mask: number): void {
  eachFormatModule(size, mask, (row, col, dark) => (out[row * size + col] = dark));
}

function writeFormatPacked(out: Packed, size: number, mask: number): void {
  const stride = strideOf(size);
  eachFormatModule(size, mask, (row, col, dark) => {
    const r = row * stride + (col >> 5);
    const c = (size + col) * stride + (row >> 5);
    if (dark) {
      out[r]! |= 1 << (col & 31);
      out[c]! |= 1 << (row & 31);
    } else {
      out[r]! &= ~(1 << (col & 31));
      out[c]! &= ~(1 << (row & 31));
    }
  });
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Word w of the positions below n (bit b set when w·32 + b < n). */
const belowBits = (n: number, w: number) => (n >= 32 * (w + 1) ? -1 : n <= 32 * w ? 0 : (1 << (n - 32 * w)) - 1);

/**
 * qrcode's penalty (getPenaltyN1..N4, same weights 3/3/40/10 and the same 11-module N3 window) of a packed symbol.
 * N1: a run of L ≥ 5 like modules scores L - 2 = (its L - 4 windows of five alike) + 2 for the run's start.
 */
function penalty(d: Packed, size: number): number {
  const stride = strideOf(size);
  const words = stride - 1;
  let runs = 0;
  let finders = 0;
  let blocks = 0;
  let dark = 0;
  for (let line = 0; line < 2 * size; line++) {
    const at = line * stride;
    const isRow = line < size;
    const below = isRow && line < size - 1 ? at + stride : -1; // the next row, for N2
    let prevSame = 0; // bit 31 of the previous word's same_p bits
    for (let w = 0; w < words; w++) {
      const m0 = d[at + w]!;
      const next = d[at + w + 1]!;
      // m_k: module p + k at bit p (k ≤ 10 < 32, so one neighbouring word supplies the rest)
      const m1 = (m0 >>> 1) | (next << 31);
      const m2 = (m0 >>> 2) | (next << 30);
      const m3 = (m0 >>> 3) | (next << 29);
      const m4 = (m0 >>> 4) | (next << 28);
      const m5 = (m0 >>> 5) | (next << 27);
      const m6 = (m0 >>> 6) | (next << 26);
      const m7 = (m0 >>> 7) | (next << 25);
      const m8 = (m0 >>> 8) | (next << 24);
      const m9 = (m0 >>> 9) | (next << 23);
      const m10 = (m0 >>> 10) | (next << 22);
      // same_p: module p equals module p + 1; five_p: modules p … p + 4 alike; a run starts where same_{p-1} is not.
      const same = ~(m0 ^ m1) & belowBits(size - 1, w);
      const five = same & ~(m1 ^ m2) & ~(m2 ^ m3) & ~(m3 ^ m4) & belowBits(size - 4, w);
      runs += popcount(five) + 2 * popcount(five & ~((same << 1) | prevSame));
      prevSame = same >>> 31;
      const a = m0 & ~m1 & m2 & m3 & m4 & ~m5 & m6 & ~m7 & ~m8 & ~m9 & ~m10;
      const b = ~m0 & ~m1 & ~m2 & ~m3 & m4 & ~m5 & m6 & m7 & m8 & ~m9 & m10;
      finders += popcount((a | b) & belowBits(size - 10, w));
      if (isRow) {
        dark += popcount(m0);
        if (below >= 0) {
          const n0 = d[below + w]!;
          const n1 = (n0 >>> 1) | (d[below + w + 1]! << 31);
          blocks += popcount(~(m0 ^ n0) & ~(m1 ^ n1) & ~(m0 ^ m1) & belowBits(size - 1, w));
        }
      }
    }
  }
  return runs + 3 * blocks + 40 * finders + Math.abs(Math.ceil((dark * 100) / (size * size) / 5) - 10) * 10;
}

/**
 * Digit runs this long go in numeric mode inside byte mode (ISO/IEC 18004 Annex J.2 for versions 1–9, where pay and
 * receive codes land: 4+10+10n/3 bits plus 12 to switch back beat byte mode's 8n from 6 digits on).
 */
const NUMERIC_RUNS = /[0-9]{6,}/g;
export type QrSegment = { data: string; mode: "byte" | "numeric" };

/**
 * The segments every gateway QR is encoded with. qrcode's own optimal split (a Dijkstra over every mode change)
 * costs ~0.5 ms per code, half of POST /app/pay's CPU; this greedy one gives the same version on pay codes with a
 * host name endpoint, sometimes one more (49 instead of 45 modules) where the optimum uses alphanumeric mode for a
 * dotted IP address and port. (Alphanumeric runs are left out: ":" + a 10-digit expiry would be one, and a worse one.)
 */
export function qrSegments(text: string): QrSegment[] {
  const out: QrSegment[] = [];
  let byteStart = 0;
  for (const m of text.matchAll(NUMERIC_RUNS)) {
    if (m.index > byteStart) out.push({ data: text.slice(byteStart, m.index), mode: "byte" });
    out.push({ data: m[0], mode: "numeric" });
    byteStart = m.index + m[0].length;
  }
  if (byteStart < text.length || out.length === 0) out.push({ data: text.slice(byteStart), mode: "byte" });
  return out;
}

/**
 * `text`'s module matrix (1 = dark): exactly
 * `QRCode.create(qrSegments(text), {errorCorrectionLevel: "M"}).modules.data`, with the mask chosen here.
 */
export function qrModules(text: string): { size: number; data: Uint8Array } {
  const options = { errorCorrectionLevel: QR_OPTIONS.errorCorrectionLevel, maskPattern: 0 as const };
  // @types/qrcode types create's input as a string; qrcode also takes the segment list (lib/core/qrcode.js).
  const m = QRCode.create(qrSegments(text) as unknown as string, options).modules as unknown as Matrix;
  const masks = masksFor(m);
  // qrcode drew the symbol with mask 0: undo it, then score each mask on the packed lines.
  const plain = m.data.slice();
  for (let k = 0; k < plain.length; k++) plain[k]! ^= masks.flat[0]![k]!;
  const plainPacked = pack(m.size, plain);
  const candidate = new Int32Array(plainPacked.length);
  let best = 0;
  let lowest = Infinity;
  for (let p = 0; p < MASKS; p++) {
    const mask = masks.packed[p]!;
    for (let k = 0; k < candidate.length; k++) candidate[k] = plainPacked[k]! ^ mask[k]!;
    writeFormatPacked(candidate, m.size, p);
    const score = penalty(candidate, m.size);
    if (score < lowest) [lowest, best] = [score, p]; // strictly lower: the first of equals wins, as in qrcode
  }
  if (best === 0) return { size: m.size, data: m.data };
  const out = new Uint8Array(plain.length);
  for (let k = 0; k < plain.length; k++) out[k] = plain[k]! ^ masks.flat[best]![k]!;
  writeFormat(out, m.size, best);
  return { size: m.size, data: out };
}

/**
 * Per geometry (symbol size, margin, width): the image width, for each pixel row the module row it shows (-1 in the
 * margin), a white pixel row (1 bits, the padding after the last pixel 0), and for each module column the bytes of
 * a pixel row its pixels fall in with their bits: a module row is drawn as the white row with each dark module's
 * bits cleared. Pay codes have one or two sizes, so this runs once per size, not per pixel.
 */
type Raster = {
  px: number;
  rowModule: Int16Array;
  white: Uint8Array;
  /** module column c's (byte, bits) pairs are at first[c] … first[c + 1] - 1 */
  first: Int32Array;
  byte: Int32Array;
  bits: Uint8Array;
};
const rasterCache = new Map<string, Raster>();

function rasterFor(size: number, margin: number, width: number): Raster {
  const key = `${size}/${margin}/${width}`;
  let r = rasterCache.get(key);
  if (!r) {
    // qrcode's getScale/getImageWidth: a fractional scale when the width fits, else 4 pixels per module.
    const scale = width >= size + margin * 2 ? width / (size + margin * 2) : 4;
    const px = Math.floor((size + margin * 2) * scale);
    const scaledMargin = margin * scale;
    const rowModule = new Int16Array(px).fill(-1);
    for (let j = 0; j < px; j++)
      if (j >= scaledMargin && j < px - scaledMargin) rowModule[j] = Math.floor((j - scaledMargin) / scale);
    const white = new Uint8Array(Math.ceil(px / 8));
    for (let j = 0; j < px; j++) white[j >> 3]! |= 0x80 >> (j & 7);
    // Columns map to modules exactly as rows do (a square image).
    const pairs: [number, number, number][] = []; // [column, byte, bits]
    for (let j = 0; j < px; j++) {
      const c = rowModule[j]!;
      if (c < 0) continue;
      const last = pairs[pairs.length - 1];
      if (last && last[0] === c && last[1] === j >> 3) last[2] |= 0x80 >> (j & 7);
      else pairs.push([c, j >> 3, 0x80 >> (j & 7)]);
    }
    const first = new Int32Array(size + 1);
    for (const [c] of pairs) first[c + 1]!++;
    for (let c = 0; c < size; c++) first[c + 1]! += first[c]!;
    r = {
      px,
      rowModule,
      white,
      first,
      byte: Int32Array.from(pairs, (p) => p[1]),
      bits: Uint8Array.from(pairs, (p) => p[2]),
    };
    rasterCache.set(key, r);
  }
  return r;
}

/**
 * zlib's stream around a raw deflate (RFC 1950): Bun's deflate and Adler-32 (native, like the chunks' CRC-32) are
 * cheaper than node:zlib's per-call Deflate object. Level 1: a pay code's 11.7 kB of rows deflate in ~20 µs to
 * ~1.5 kB instead of ~77 µs to ~1.0 kB at the default level 6; the answer waits for this, the bytes hardly matter.
 */
function zlibOf(raw: Uint8Array<ArrayBuffer>): Uint8Array {
  const body = Bun.deflateSync(raw, { level: 1 });
  const out = new Uint8Array(2 + body.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // fastest level, header check bits
  out.set(body, 2);
  new DataView(out.buffer).setUint32(2 + body.length, Number(Bun.hash.adler32(raw)) >>> 0);
  return out;
}

/** PNG bytes of `text`'s QR code, pixel for pixel what `QRCode.toBuffer(qrSegments(text), QR_OPTIONS)` draws. */
export function qrPng(text: string, opts: { margin: number; width: number } = QR_OPTIONS): Buffer {
  const { size, data } = qrModules(text);
  const { px, rowModule, white, first, byte, bits } = rasterFor(size, opts.margin, opts.width);
  const stride = 1 + white.length; // filter byte + 1 bit per pixel
  // 1 = white (greyscale), 0 = black; filter type 0 (none) in each row's first byte.
  const raw = new Uint8Array(stride * px);
  let previous = -2;
  for (let i = 0; i < px; i++) {
    const row = i * stride;
    const m = rowModule[i]!;
    // Consecutive pixel rows of one module row (or of the margin) are identical: copy instead of repainting.
    if (m === previous) {
      raw.copyWithin(row, row - stride, row);
      continue;
    }
    previous = m;
    raw.set(white, row + 1);
    if (m < 0) continue;
    const line = m * size;
    for (let c = 0; c < size; c++)
      if (data[line + c] !== 0) for (let k = first[c]!; k < first[c + 1]!; k++) raw[row + 1 + byte[k]!]! &= ~bits[k]!;
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, px);
  hv.setUint32(4, px);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, colour type 0 (greyscale), deflate, adaptive filtering, no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", zlibOf(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** `data:image/png;base64,…` of `text`'s QR, the form `POST /app/pay` and `GET /app/receive-qr` answer with. */
export const qrDataUrl = (text: string): string => "data:image/png;base64," + qrPng(text).toString("base64");

export const qrSvgOf = (text: string): Promise<string> =>
  QRCode.toString(qrSegments(text) as unknown as string, {
    type: "svg",
    errorCorrectionLevel: QR_OPTIONS.errorCorrectionLevel,
    margin: QR_OPTIONS.margin,
  });

/** The mask penalty of a module matrix (1 = dark), as qrcode's getPenaltyN1…N4 sum it (tests pin the two together). */
export const qrPenalty = (size: number, data: Uint8Array): number => penalty(pack(size, data), size);
