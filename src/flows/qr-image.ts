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

// ---- mask choice (ISO/IEC 18004 §7.8.3), the same rule and result as qrcode's getBestMask, ~10× cheaper: qrcode
// masks the whole matrix eight times through per-module calls (~0.7 ms of the ~1.1 ms a pay code's QR costs);
// here the symbol is built once with mask 0 and each candidate is a XOR with a cached mask matrix.

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
/** Per symbol size (the reserved modules depend on the version only): 1 where mask p flips a data module. */
const maskCache = new Map<number, Uint8Array[]>();

function masksFor(m: Matrix): Uint8Array[] {
  let masks = maskCache.get(m.size);
  if (!masks) {
    masks = MASK_RULES.map((rule) => {
      const out = new Uint8Array(m.size * m.size);
      for (let i = 0; i < m.size; i++)
        for (let j = 0; j < m.size; j++) if (!m.reservedBit[i * m.size + j] && rule(i, j)) out[i * m.size + j] = 1;
      return out;
    });
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

/** Writes the format information where qrcode's setupFormatInfo does. */
function writeFormat(out: Uint8Array, size: number, mask: number): void {
  const bits = formatBits(mask);
  for (let i = 0; i < 15; i++) {
    const mod = (bits >> i) & 1;
    const row = i < 6 ? i : i < 8 ? i + 1 : size - 15 + i;
    out[row * size + 8] = mod;
    const col = i < 8 ? size - i - 1 : i < 9 ? 15 - i : 15 - i - 1;
    out[8 * size + col] = mod;
  }
  out[(size - 8) * size + 8] = 1;
}

/** qrcode's penalty (getPenaltyN1..N4, same weights 3/3/40/10 and the same 11-module N3 window). */
function penalty(d: Uint8Array, size: number): number {
  let points = 0;
  for (let a = 0; a < size; a++) {
    let runRow = 0;
    let runCol = 0;
    let lastRow = -1;
    let lastCol = -1;
    let bitsRow = 0;
    let bitsCol = 0;
    for (let b = 0; b < size; b++) {
      const h = d[a * size + b]!; // along row a
      const v = d[b * size + a]!; // along column a
      if (h === lastRow) runRow++;
      else {
        if (runRow >= 5) points += 3 + runRow - 5;
        lastRow = h;
        runRow = 1;
      }
      if (v === lastCol) runCol++;
      else {
        if (runCol >= 5) points += 3 + runCol - 5;
        lastCol = v;
        runCol = 1;
      }
      bitsRow = ((bitsRow << 1) & 0x7ff) | h;
      bitsCol = ((bitsCol << 1) & 0x7ff) | v;
      if (b >= 10) {
        if (bitsRow === 0x5d0 || bitsRow === 0x05d) points += 40;
        if (bitsCol === 0x5d0 || bitsCol === 0x05d) points += 40;
      }
    }
    if (runRow >= 5) points += 3 + runRow - 5;
    if (runCol >= 5) points += 3 + runCol - 5;
  }
  let dark = 0;
  for (let r = 0; r < size - 1; r++) {
    const top = r * size;
    const bottom = top + size;
    let left = d[top]! + d[bottom]!;
    for (let c = 1; c < size; c++) {
      const right = d[top + c]! + d[bottom + c]!;
      if (left + right === 0 || left + right === 4) points += 3;
      left = right;
    }
  }
  for (let k = 0; k < d.length; k++) dark += d[k]!;
  return points + Math.abs(Math.ceil((dark * 100) / (size * size) / 5) - 10) * 10;
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
  const plain = m.data.slice();
  for (let k = 0; k < plain.length; k++) plain[k]! ^= masks[0]![k]!;
  const candidate = new Uint8Array(plain.length);
  let best = 0;
  let lowest = Infinity;
  for (let p = 0; p < MASKS; p++) {
    const mask = masks[p]!;
    for (let k = 0; k < plain.length; k++) candidate[k] = plain[k]! ^ mask[k]!;
    writeFormat(candidate, m.size, p);
    const score = penalty(candidate, m.size);
    if (score < lowest) [lowest, best] = [score, p]; // strictly lower: the first of equals wins, as in qrcode
  }
  if (best === 0) return { size: m.size, data: m.data };
  for (let k = 0; k < plain.length; k++) candidate[k] = plain[k]! ^ masks[best]![k]!;
  writeFormat(candidate, m.size, best);
  return { size: m.size, data: candidate };
}

/**
 * Per geometry (symbol size, margin, width): the image width and, for each pixel column (or row), the module it
 * shows, -1 in the margin. Pay codes have one or two sizes, so the divisions run once per size, not per pixel.
 */
type Raster = { px: number; moduleAt: Int16Array };
const rasterCache = new Map<string, Raster>();

function rasterFor(size: number, margin: number, width: number): Raster {
  const key = `${size}/${margin}/${width}`;
  let r = rasterCache.get(key);
  if (!r) {
    // qrcode's getScale/getImageWidth: a fractional scale when the width fits, else 4 pixels per module.
    const scale = width >= size + margin * 2 ? width / (size + margin * 2) : 4;
    const px = Math.floor((size + margin * 2) * scale);
    const scaledMargin = margin * scale;
    const moduleAt = new Int16Array(px).fill(-1);
    for (let j = 0; j < px; j++)
      if (j >= scaledMargin && j < px - scaledMargin) moduleAt[j] = Math.floor((j - scaledMargin) / scale);
    r = { px, moduleAt };
    rasterCache.set(key, r);
  }
  return r;
}

/** zlib's stream around a raw deflate (RFC 1950): Bun's deflate is ~5× cheaper than node:zlib's per call. */
function zlibOf(raw: Uint8Array<ArrayBuffer>): Uint8Array {
  const body = Bun.deflateSync(raw);
  let a = 1;
  let b = 0;
  // Adler-32 with the modulo deferred every 5552 bytes (zlib's NMAX): the sums stay 32-bit integers (RFC 1950 §9).
  for (let i = 0; i < raw.length; ) {
    const end = Math.min(i + 5552, raw.length);
    for (; i < end; i++) {
      a += raw[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  const out = new Uint8Array(2 + body.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x9c; // default level, header check bits
  out.set(body, 2);
  new DataView(out.buffer).setUint32(2 + body.length, ((b << 16) | a) >>> 0);
  return out;
}

/** PNG bytes of `text`'s QR code, pixel for pixel what `QRCode.toBuffer(qrSegments(text), QR_OPTIONS)` draws. */
export function qrPng(text: string, opts: { margin: number; width: number } = QR_OPTIONS): Buffer {
  const { size, data } = qrModules(text);
  const { px, moduleAt } = rasterFor(size, opts.margin, opts.width);
  const stride = 1 + Math.ceil(px / 8); // filter byte + 1 bit per pixel
  // 1 = white (greyscale), 0 = black; filter type 0 (none) in each row's first byte.
  const raw = new Uint8Array(stride * px);
  let previous = -2;
  for (let i = 0; i < px; i++) {
    const row = i * stride;
    const m = moduleAt[i]!;
    // Consecutive pixel rows of one module row (or of the margin) are identical: copy instead of repainting.
    if (m === previous) {
      raw.copyWithin(row, row - stride, row);
      continue;
    }
    previous = m;
    const line = m * size;
    for (let j = 0; j < px; j++) {
      const c = moduleAt[j]!;
      if (m < 0 || c < 0 || data[line + c] === 0) raw[row + 1 + (j >> 3)]! |= 0x80 >> (j & 7);
    }
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
