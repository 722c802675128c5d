// QR images for pay codes and receive codes. `qrcode` computes the module matrix (its encoder and mask choice);
// the PNG is written here, 1-bit greyscale, because qrcode's own PNG path paints a 300×300 RGBA canvas pixel by pixel
// and deflates it through pngjs streams: ~10 ms per call on the event loop, the whole cost of POST /app/pay
// (issue 20). Same geometry as qrcode's renderer (errorCorrectionLevel M, margin 2, width 300), so the pixels match.
import { deflateSync } from "node:zlib";
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

/** PNG bytes of `text`'s QR code, pixel for pixel what `QRCode.toBuffer(text, QR_OPTIONS)` draws. */
export function qrPng(text: string, opts: { margin: number; width: number } = QR_OPTIONS): Buffer {
  const { size, data } = QRCode.create(text, { errorCorrectionLevel: QR_OPTIONS.errorCorrectionLevel }).modules;
  const margin = opts.margin;
  // qrcode's getScale/getImageWidth: a fractional scale when the width fits, else 4 pixels per module.
  const scale = opts.width >= size + margin * 2 ? opts.width / (size + margin * 2) : 4;
  const px = Math.floor((size + margin * 2) * scale);
  const scaledMargin = margin * scale;
  const stride = 1 + Math.ceil(px / 8); // filter byte + 1 bit per pixel
  const raw = new Uint8Array(stride * px);
  let previousSrc = -2;
  for (let i = 0; i < px; i++) {
    const row = raw.subarray(i * stride, (i + 1) * stride);
    const inRows = i >= scaledMargin && i < px - scaledMargin;
    const iSrc = inRows ? Math.floor((i - scaledMargin) / scale) : -1;
    // Consecutive pixel rows of one module row are identical: copy instead of repainting.
    if (i > 0 && iSrc === previousSrc) {
      row.set(raw.subarray((i - 1) * stride, i * stride));
      continue;
    }
    previousSrc = iSrc;
    // 1 = white (greyscale), 0 = black; filter type 0 (none) in row[0].
    for (let j = 0; j < px; j++) {
      let dark = false;
      if (inRows && j >= scaledMargin && j < px - scaledMargin)
        dark = data[iSrc * size + Math.floor((j - scaledMargin) / scale)]! !== 0;
      if (!dark) row[1 + (j >> 3)]! |= 0x80 >> (j & 7);
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
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** `data:image/png;base64,…` of `text`'s QR, the form `POST /app/pay` and `GET /app/receive-qr` answer with. */
export const qrDataUrl = (text: string): string => "data:image/png;base64," + qrPng(text).toString("base64");

export const qrSvgOf = (text: string): Promise<string> =>
  QRCode.toString(text, {
    type: "svg",
    errorCorrectionLevel: QR_OPTIONS.errorCorrectionLevel,
    margin: QR_OPTIONS.margin,
  });
