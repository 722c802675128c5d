// §8: a user asks to pay → a short-lived single-use session and the QR code a merchant's POS scans.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { randomHex } from "../protocol/hex";
import type { User } from "../store/users";
import { assertNotFrozen } from "./user-limits";
import { qrDataUrl, qrPng, qrSvgOf } from "./qr-image";

/** §8.1: 128-bit random session ids. */
const SESSION_ID_BYTES = 16;

export type QrPayload = { ocid: number; order: string; expiresAt: number };

/** §8.2: keys in exactly this order, no whitespace. */
export function qrPayload(
  ocid: number,
  endpoint: string,
  sessionId: string,
  expiresAt: number,
): { object: QrPayload; text: string } {
  const object = { ocid, order: `${endpoint}/orders/create/${sessionId}`, expiresAt };
  return { object, text: JSON.stringify(object) };
}

export async function createPaySession(gw: Pick<Gateway, "clock" | "config" | "store">, user: User) {
  const { store, config } = gw;
  const now = gw.clock();
  const id = randomHex(SESSION_ID_BYTES);
  const expiresAt = now + config.sessionTtl;
  const max = config.maxPendingSessions;
  const session = { id, userId: user.id, createdAt: now, expiresAt };
  const created = await store.transaction(async (tx) => {
    await assertNotFrozen(tx, user.id);
    return tx.sessions.insertPendingQr(session, max);
  });
  if (!created) {
    const retryAfter = { "retry-after": String(config.sessionTtl) };
    throw new ProtocolError("RATE_LIMITED", "Too many pending sessions", { limit: max }, retryAfter);
  }
  const payload = qrPayload(config.ocid, config.endpoint, id, expiresAt);
  // ~1 ms (src/flows/qr-image.ts): cheap enough to keep the data URL in every answer, as the docs' sample shows.
  const qrCode = qrDataUrl(payload.text);
  return { sessionId: id, qrPayload: payload.object, qrText: payload.text, qrCode, expiresAt };
}

export function qrSvg(gw: Pick<Gateway, "config">, sessionId: string, expiresAt: number): Promise<string> {
  return qrSvgOf(qrPayload(gw.config.ocid, gw.config.endpoint, sessionId, expiresAt).text);
}

export function qrPngOf(gw: Pick<Gateway, "config">, sessionId: string, expiresAt: number): Buffer {
  return qrPng(qrPayload(gw.config.ocid, gw.config.endpoint, sessionId, expiresAt).text);
}
