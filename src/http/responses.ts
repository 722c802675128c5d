import { ProtocolError } from "../protocol/errors";
import { responseCanonical } from "../protocol/canonical";
import { sha256Bytes, sha256Hex } from "../protocol/hash";
import { signDigest } from "../protocol/signatures";
import type { Clock } from "../clock";

const JSON_TYPE = "application/json; charset=utf-8";

/** `offThread`: sign the response digest on a crypto worker (config `signOnWorkers`), used by the async forms. */
export type ResponseSigner = {
  ocid: number;
  secret: Uint8Array;
  clock: Clock;
  offThread?: (digest: Uint8Array, sk: Uint8Array) => Promise<string>;
};

/** The §4.5 digest a signer signs for `status` and the exact body `text` at time `ts`. */
export const responseDigest = (signer: Pick<ResponseSigner, "ocid">, ts: number, status: number, text: string) =>
  sha256Bytes(responseCanonical(signer.ocid, ts, status, sha256Hex(text)));

const textOf = (body: unknown): string => (body instanceof RawJson ? body.text : JSON.stringify(body));

/** `at`: the timestamp to sign with (a presigned answer's); else the signer's clock now. */
function parts(status: number, text: string, headers: Record<string, string>, signer?: ResponseSigner, at?: number) {
  const h: Record<string, string> = { "content-type": JSON_TYPE, ...headers };
  if (!signer) return { h, digest: null };
  const ts = at ?? signer.clock();
  h["x-oc-id"] = String(signer.ocid);
  h["x-oc-timestamp"] = String(ts);
  return { h, digest: responseDigest(signer, ts, status, text) };
}

/** Serialise once; the same bytes are hashed, signed and sent (§4.5). `{raw}` is already-serialised JSON. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  signer?: ResponseSigner,
): Response {
  const text = textOf(body);
  const { h, digest } = parts(status, text, headers, signer);
  if (digest !== null) h["x-oc-signature"] = signDigest(digest, signer!.secret);
  return new Response(text, { status, headers: h });
}

/** A response signed ahead (FollowUp): used only when the reply is exactly this status and these bytes. */
export type Presigned = { status: number; text: string; ts: number; sig: string };

/** jsonResponse, with the signature made on a crypto worker when the signer has one (the protocol routes' path). */
export async function jsonResponseAsync(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  signer?: ResponseSigner,
  presigned?: Presigned,
): Promise<Response> {
  if (!signer) return jsonResponse(status, body, headers);
  const text = textOf(body);
  const ahead = presigned?.status === status && text === presigned.text ? presigned : undefined;
  const { h, digest } = parts(status, text, headers, signer, ahead?.ts);
  if (ahead) h["x-oc-signature"] = ahead.sig;
  else if (signer.offThread) h["x-oc-signature"] = await signer.offThread(digest!, signer.secret);
  else h["x-oc-signature"] = signDigest(digest!, signer.secret);
  return new Response(text, { status, headers: h });
}

export class RawJson {
  constructor(readonly text: string) {}
}

export function errorResponse(
  err: ProtocolError,
  signer?: ResponseSigner,
  extraHeaders: Record<string, string> = {},
): Response {
  return jsonResponse(err.status, err.body(), { ...(err.headers ?? {}), ...extraHeaders }, signer);
}

/** What a protocol handler answers: JSON to sign, or exact bytes already signed (a replayed or stored answer). */
export type ProtocolReply = { status?: number; body?: unknown; rawBody?: string; headers?: Record<string, string> };
