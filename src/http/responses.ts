import { ProtocolError } from "../protocol/errors";
import { responseCanonical } from "../protocol/canonical";
import { sha256Hex } from "../protocol/hash";
import { signString } from "../protocol/signatures";
import type { Clock } from "../clock";

const JSON_TYPE = "application/json; charset=utf-8";

export type ResponseSigner = { ocid: number; secret: Uint8Array; clock: Clock };

/** Serialise once; the same bytes are hashed, signed and sent (§4.5). `{raw}` is already-serialised JSON. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}, signer?: ResponseSigner): Response {
  const text = body instanceof RawJson ? body.text : JSON.stringify(body);
  const h: Record<string, string> = { "content-type": JSON_TYPE, ...headers };
  if (signer) {
    const ts = signer.clock();
    h["x-oc-id"] = String(signer.ocid);
    h["x-oc-timestamp"] = String(ts);
    h["x-oc-signature"] = signString(responseCanonical(signer.ocid, ts, status, sha256Hex(text)), signer.secret);
  }
  return new Response(text, { status, headers: h });
}

export class RawJson {
  constructor(readonly text: string) {}
}

export function errorResponse(err: ProtocolError, signer?: ResponseSigner, extraHeaders: Record<string, string> = {}): Response {
  return jsonResponse(err.status, err.body(), { ...(err.headers ?? {}), ...extraHeaders }, signer);
}

