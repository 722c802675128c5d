// Issue 17 step 4: the receive QR of a user with an OCID, as the docs give it, in JSON (with a PNG data URL), PNG and
// SVG, each decoding to the exact payload text.
import { afterAll, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";
import { setUserOcid } from "../../src/flows/end-user-ocid";
import * as S from "../../src/app/schemas";
import { expectConforms } from "../helpers/schema-check";

let tg: PortTestGateway;
beforeAll(async () => {
  tg = await startPortTestGateway({ ocid: 300, rateLimits: NO_RATE_LIMITS });
});
afterAll(() => tg.close());

function decodeQr(png: Buffer): string | null {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data ?? null;
}

test("GET /app/receive-qr: {type, ocid, gateway} in that order; PNG data URL, .png and .svg carry exactly that text", async () => {
  const u = await seedUser(tg, "nora");
  await setUserOcid(tg.gw, "nora", "7001");
  const r = await app(tg, u.token, "GET", "/app/receive-qr");
  expect(r.status).toBe(200);
  expectConforms(S.ReceiveQrResponse, r.json, "GET /app/receive-qr");
  expect(r.json.qrPayload).toEqual({ type: "ocid_transfer", ocid: 7001, gateway: 300 });
  expect(r.json.qrText).toBe('{"type":"ocid_transfer","ocid":7001,"gateway":300}');
  expect(r.json.handle).toBe("nora");
  expect(r.json.qrCode).toMatch(/^data:image\/png;base64,/);
  expect(decodeQr(Buffer.from(r.json.qrCode.split(",")[1], "base64"))).toBe(r.json.qrText);
  const png = await fetch(`${tg.url}/app/receive-qr.png`, { headers: { authorization: `Bearer ${u.token}` } });
  expect(png.headers.get("content-type")).toBe("image/png");
  expect(decodeQr(Buffer.from(await png.arrayBuffer()))).toBe(r.json.qrText);
  const svg = await fetch(`${tg.url}/app/receive-qr.svg`, { headers: { authorization: `Bearer ${u.token}` } });
  expect(svg.headers.get("content-type")).toBe("image/svg+xml");
  expect(await svg.text()).toMatch(/^<svg[^>]*viewBox=/);
  expect((await fetch(`${tg.url}/app/receive-qr`)).status).toBe(401);
});

test("a user without an OCID gets 409 INVALID_STATE saying what to do, with the handle to share instead", async () => {
  const u = await seedUser(tg, "otto");
  const r = await app(tg, u.token, "GET", "/app/receive-qr");
  expect([r.status, r.json.error.code, r.json.error.details]).toEqual([409, "INVALID_STATE", { reason: "no_ocid", handle: "otto" }]);
  expect(r.json.error.message).toContain("OCID");
});

test("scanning a receive QR (POST /app/scan) prefills a transfer that then pays; doctored or own codes are refused", async () => {
  const payee = await seedUser(tg, "pia");
  await setUserOcid(tg.gw, "pia", "7002");
  const payer = await seedUser(tg, "quinn", "USD:10.00");
  const qr = (await app(tg, payee.token, "GET", "/app/receive-qr")).json;
  const scan = await app(tg, payer.token, "POST", "/app/scan", { qrContent: qr.qrText + "\n" });
  expect(scan.status).toBe(200);
  expect(scan.json).toEqual({ kind: "ocid_transfer", transfer: { to: 7002, gateway: 300, name: "pia", local: true } });
  const paid = await app(tg, payer.token, "POST", "/app/transfer", { to: scan.json.transfer.to, amount: "4.00", currency: "USD", idempotencyKey: "scan-1" });
  expect(paid.json.status).toBe("paid");

  const doctored = await app(tg, payer.token, "POST", "/app/scan", { qrContent: JSON.stringify({ type: "ocid_transfer", ocid: 7002, gateway: 999 }) });
  expect([doctored.status, doctored.json.error.code, doctored.json.error.details.reason]).toEqual([400, "ACCOUNT_NOT_FOUND", "gateway_mismatch"]);
  const own = await app(tg, payee.token, "POST", "/app/scan", { qrContent: qr.qrText });
  expect([own.status, own.json.error.details.reason]).toEqual([400, "own_code"]);
  const unknown = await app(tg, payer.token, "POST", "/app/scan", { qrContent: JSON.stringify({ type: "ocid_transfer", ocid: 7999, gateway: 300 }) });
  expect([unknown.status, unknown.json.error.code]).toEqual([400, "ACCOUNT_NOT_FOUND"]);
  const broken = await app(tg, payer.token, "POST", "/app/scan", { qrContent: '{"type":"ocid_transfer","ocid":"x","gateway":300}' });
  expect([broken.json.error.code, broken.json.error.details.reason]).toEqual(["CODE_NOT_RECOGNIZED", "ocid"]);
});
