// Issue 20 item 5: the pay code's PNG is written by src/flows/qr-image.ts instead of qrcode's RGBA canvas + pngjs,
// from segments and a mask chosen there. It must be the same picture (pixel for pixel what qrcode draws for the same
// segments with the documented options, qrcode choosing the mask) and decode to the exact QR text, in the data URL
// of POST /app/pay and from GET /app/sessions/{id}/qr.png.
import { afterAll, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { qrDataUrl, qrModules, qrPenalty, qrPng, qrSegments } from "../../src/flows/qr-image";
// qrcode's own penalty rules and matrix, the reference the packed penalty must equal (@types/qrcode has no types here).
// @ts-expect-error untyped internal module
import * as Mask from "qrcode/lib/core/mask-pattern";
// @ts-expect-error untyped internal module
import BitMatrix from "qrcode/lib/core/bit-matrix";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";

let tg: PortTestGateway;
beforeAll(async () => {
  tg = await startPortTestGateway({ ocid: 200, rateLimits: NO_RATE_LIMITS });
});
afterAll(() => tg.close());

const decode = (png: Buffer) => {
  const img = PNG.sync.read(png);
  return { img, text: jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data ?? null };
};

const TEXTS = [
  '{"ocid":200,"order":"https://gw.example/opencharge/orders/create/0123456789abcdef0123456789abcdef","expiresAt":1764000000}',
  '{"type":"ocid_transfer","ocid":7001,"gateway":300}',
  "x",
  "é€𝄞 ".repeat(40), // multi-byte UTF-8, a larger version
];

// @types/qrcode types the input as a string; qrcode takes a segment list too.
const asInput = (text: string) => qrSegments(text) as unknown as string;

test("qrPng draws what qrcode draws (M, margin 2, width 300), pixel for pixel, and it decodes to the text", async () => {
  for (const text of TEXTS) {
    const theirs = PNG.sync.read(await QRCode.toBuffer(asInput(text), { errorCorrectionLevel: "M", margin: 2, width: 300 }));
    const ours = decode(qrPng(text));
    expect({ text, w: ours.img.width, h: ours.img.height }).toEqual({ text, w: theirs.width, h: theirs.height });
    expect(Buffer.compare(ours.img.data, theirs.data)).toBe(0);
    expect(ours.text).toBe(text);
    expect(qrDataUrl(text)).toBe("data:image/png;base64," + qrPng(text).toString("base64"));
  }
});

test("the mask is the one qrcode chooses, on many pay-code texts; digit runs of 6+ are numeric, the rest bytes", () => {
  const hex = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
  for (let i = 0; i < 300; i++) {
    const text = `{"ocid":${i},"order":"https://gw${i}.example/opencharge/orders/create/${hex()}","expiresAt":${1764000000 + i}}`;
    const theirs = QRCode.create(asInput(text), { errorCorrectionLevel: "M" }).modules;
    const ours = qrModules(text);
    expect(ours.size).toBe(theirs.size);
    expect(Buffer.compare(Buffer.from(ours.data), Buffer.from(theirs.data))).toBe(0);
  }
  expect(qrSegments("ab1234567cd12345")).toEqual([
    { data: "ab", mode: "byte" },
    { data: "1234567", mode: "numeric" },
    { data: "cd12345", mode: "byte" },
  ]);
  expect(qrSegments("x")).toEqual([{ data: "x", mode: "byte" }]);
});

test("the packed mask penalty is qrcode's N1+N2+N3+N4 on random and pattern-laden matrices of every word layout", () => {
  let seed = 20261202;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const finder = [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0];
  for (const size of [21, 25, 31, 32, 33, 45, 49, 63, 64, 65, 97, 177])
    for (let trial = 0; trial < 12; trial++) {
      const density = [0.5, 0.15, 0.85][trial % 3]!;
      const data = new Uint8Array(size * size).map(() => (rand() < density ? 1 : 0));
      // Finder-like windows and long runs, in rows and columns, both directions, some at the edges.
      for (let n = 0; n < 6; n++) {
        const line = Math.floor(rand() * size);
        const from = Math.floor(rand() * (size - 10));
        const pattern = rand() < 0.5 ? finder : [...finder].reverse();
        const column = rand() < 0.5;
        pattern.forEach((v, k) => (data[column ? (from + k) * size + line : line * size + from + k] = v));
      }
      const m = new BitMatrix(size);
      m.data.set(data);
      const theirs = Mask.getPenaltyN1(m) + Mask.getPenaltyN2(m) + Mask.getPenaltyN3(m) + Mask.getPenaltyN4(m);
      expect({ size, trial, penalty: qrPenalty(size, data) }).toEqual({ size, trial, penalty: theirs });
    }
});

test("POST /app/pay's qrCode and GET /app/sessions/{id}/qr.png are the same PNG of qrText; others' sessions are 403", async () => {
  const { token } = await seedUser(tg, "quinn");
  const pay = await app(tg, token, "POST", "/app/pay", {});
  expect(pay.status).toBe(200);
  const fromUrl = Buffer.from(pay.json.qrCode.split(",")[1], "base64");
  expect(decode(fromUrl).text).toBe(pay.json.qrText);
  const res = await fetch(`${tg.url}/app/sessions/${pay.json.sessionId}/qr.png`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/png");
  expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), fromUrl)).toBe(0);
  const other = await seedUser(tg, "rosa");
  expect((await app(tg, other.token, "GET", `/app/sessions/${pay.json.sessionId}/qr.png`)).status).toBe(403);
  expect((await fetch(`${tg.url}/app/sessions/${pay.json.sessionId}/qr.png`)).status).toBe(401);
});
