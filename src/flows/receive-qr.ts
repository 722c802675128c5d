// GET /app/receive-qr (issue 17): the QR another wallet scans to send this user money, as the docs' end-user OCID page
// gives it: {"type":"ocid_transfer","ocid":<user OCID>,"gateway":<gateway OCID>}, keys in that order, no spaces.
import { qrDataUrl, qrPng, qrSvgOf } from "./qr-image";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";

export type ReceivePayload = { type: "ocid_transfer"; ocid: number; gateway: number };

export function receivePayload(gw: Pick<Gateway, "config">, user: User): { object: ReceivePayload; text: string } {
  if (!user.ocid)
    throw new ProtocolError(
      "INVALID_STATE",
      "You have no OCID yet: ask the operator for one (oc users set-ocid), or share your handle",
      {
        reason: "no_ocid",
        handle: user.name,
      },
    );
  const object: ReceivePayload = { type: "ocid_transfer", ocid: user.ocid, gateway: gw.config.ocid };
  return { object, text: JSON.stringify(object) };
}

export async function receiveQr(gw: Gateway, user: User) {
  const p = receivePayload(gw, user);
  const qrCode = qrDataUrl(p.text);
  return { qrPayload: p.object, qrText: p.text, qrCode, handle: user.name, userRef: `user_${user.id}` };
}

export const receiveQrSvg = (gw: Gateway, user: User) => qrSvgOf(receivePayload(gw, user).text);

export const receiveQrPng = async (gw: Gateway, user: User) => qrPng(receivePayload(gw, user).text);

/** A scanned text → the transfer it prefills, or null when it is not an `ocid_transfer` code. */
export function parseReceivePayload(text: string): ReceivePayload | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = v as Partial<ReceivePayload> | null;
  if (!o || typeof o !== "object" || o.type !== "ocid_transfer") return null;
  const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 1;
  return ok(o.ocid) && ok(o.gateway) ? { type: "ocid_transfer", ocid: o.ocid, gateway: o.gateway } : null;
}
