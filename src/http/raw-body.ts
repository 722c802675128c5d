import { ProtocolError } from "../protocol/errors";

/**
 * Reads the body exactly as received, stopping as soon as it passes `max` bytes (§4.2: never `text()`, which
 * rewrites invalid UTF-8; never a framework-parsed body, which may not be the bytes that were signed).
 */
export async function readBodyLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw new ProtocolError("PAYLOAD_TOO_LARGE");
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      throw new ProtocolError("PAYLOAD_TOO_LARGE");
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** §4.2: the request target as on the wire (keeps a bare trailing `?`, unlike URL.pathname + search). */
export function wireTarget(url: string): string {
  return url.slice(url.indexOf("/", url.indexOf("//") + 2));
}
