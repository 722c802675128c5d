// Whose request is this, for per-address limits: the TCP peer, unless that peer is a reverse proxy the operator
// configured (`trustedProxies`), in which case the client is the right-most X-Forwarded-For hop that is not one of
// those proxies. Hops left of an untrusted one are the client's own claims and are never believed.
import { isIP } from "node:net";
import type { Allowlist } from "../peers/ssrf";

export function clientAddress(peer: string, forwardedFor: string | null, trusted: Allowlist): string {
  if (!forwardedFor || !trusted.matches(peer)) return peer;
  let client = peer;
  const hops = forwardedFor.split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.replace(/^\[(.*)\]$/, "$1");
    if (!isIP(hop)) break; // garbage from the client: keep the last address we could vouch for
    client = hop;
    if (!trusted.matches(hop)) break;
  }
  return client;
}
