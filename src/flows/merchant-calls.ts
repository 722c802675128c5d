// Issue 13: the calls a scan makes to a merchant. Only to URLs under the merchant's registered endpoint (checked
// here before anything is sent, and again by the peer client with the SSRF guard), signed as this gateway, with
// the peer client's size cap and our own deadline; redirects are answered, never followed.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { PeerMetadata } from "../protocol/schemas";
import { parseJsonObject } from "../protocol/validate";
import { isUnderEndpoint } from "../peers/ssrf";

/** The user is waiting at the till: as long as a metadata fetch (§16), not a settlement call. */
export const MERCHANT_TIMEOUT_MS = 5000;

export const merchantHost = (meta: PeerMetadata) => new URL(meta.endpoint).host;

/** §2 through the directory; our own OCID and unknown OCIDs are not merchants the user can pay. */
export async function resolveMerchant(gw: Pick<Gateway, "config" | "directory">, ocid: number): Promise<PeerMetadata> {
  if (ocid === gw.config.ocid) throw new ProtocolError("NOT_A_MERCHANT", undefined, { reason: "own_gateway", ocid });
  try {
    return await gw.directory.resolve(ocid);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID")
      throw new ProtocolError("NOT_A_MERCHANT", undefined, { reason: "unknown_ocid", ocid });
    throw new ProtocolError("MERCHANT_UNAVAILABLE", "The merchant's directory entry cannot be read; try again", {
      reason: "metadata",
    });
  }
}

/** A URL from a scanned code → the route under the merchant's endpoint, or ORDER_URL_REFUSED (nothing sent). */
export function routeUnderEndpoint(meta: PeerMetadata, url: string): string {
  if (!isUnderEndpoint(url, meta.endpoint))
    throw new ProtocolError("ORDER_URL_REFUSED", undefined, {
      reason: "outside_endpoint",
      endpointHost: merchantHost(meta),
    });
  const u = new URL(url);
  return u.pathname.slice(new URL(meta.endpoint).pathname.replace(/\/+$/, "").length) + u.search;
}

/** One signed call to the merchant; a JSON object back, or the scan error that says what went wrong. */
export async function callMerchant(
  gw: Pick<Gateway, "peers">,
  meta: PeerMetadata,
  method: "GET" | "POST",
  route: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const r = await gw.peers.call(meta.ocid, method, route, body, { timeoutMs: MERCHANT_TIMEOUT_MS });
  if (r.kind === "refused") {
    if (r.reason === "unknown_ocid")
      throw new ProtocolError("NOT_A_MERCHANT", undefined, { reason: "unknown_ocid", ocid: meta.ocid });
    throw new ProtocolError("ORDER_URL_REFUSED", undefined, { reason: r.reason, endpointHost: merchantHost(meta) });
  }
  if (r.kind === "failure") throw new ProtocolError("MERCHANT_UNAVAILABLE", undefined, { reason: r.reason });
  if (r.status >= 300 && r.status < 400)
    throw new ProtocolError("MERCHANT_UNAVAILABLE", "The merchant's code redirects elsewhere; it was not followed", {
      reason: "redirect",
      status: r.status,
    });
  if (r.status < 200 || r.status >= 300)
    throw new ProtocolError("MERCHANT_UNAVAILABLE", undefined, { reason: "http_status", status: r.status });
  if (r.signatureValid === false)
    throw new ProtocolError("MERCHANT_UNAVAILABLE", "The merchant's answer carries an invalid signature", {
      reason: "response_signature",
    });
  const parsed = parseJsonObject(r.body);
  if (!parsed.ok) throw new ProtocolError("MERCHANT_RESPONSE_INVALID", undefined, { reason: parsed.reason });
  return parsed.value;
}
