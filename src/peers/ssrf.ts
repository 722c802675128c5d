// §17 outbound URL rules: https only (http for allow-listed hosts), no userinfo, and no target that resolves to
// loopback/private/link-local/CGNAT/unspecified/multicast/broadcast/reserved space unless allow-listed.
// Self-contained: a small IPv4/IPv6 parser (no npm packages); the default resolver is node:dns.
import { lookup } from "node:dns/promises";

export type Allowlist = { matches(hostOrIp: string): boolean };
export type OutboundCheck = { ok: true; url: URL; addresses: string[] } | { ok: false; reason: string };

type Bytes = number[]; // 4 (IPv4) or 16 (IPv6) octets

/** Strict dotted quad: four decimal parts 0–255, no leading zeros (so "010.0.0.1" is not silently read as 10). */
function ipv4Bytes(s: string): Bytes | null {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

/** IPv6 text → 16 bytes: `::` compression, an embedded dotted IPv4 tail, optional brackets and `%zone`. */
function ipv6Bytes(s: string): Bytes | null {
  let text = s;
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const pct = text.indexOf("%");
  if (pct !== -1) {
    if (pct === text.length - 1) return null; // empty zone id
    text = text.slice(0, pct);
  }
  if (!text.includes(":")) return null;
  let tail: Bytes = [];
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = ipv4Bytes(last);
    if (!v4) return null;
    tail = v4;
    text = text.slice(0, lastColon + 1) + "0:0"; // placeholder groups, replaced below
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const split = (h: string) => (h === "" ? [] : h.split(":"));
  const head = split(halves[0]!);
  const rest = halves.length === 2 ? split(halves[1]!) : [];
  let groups: string[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null; // "::" stands for at least one zero group
    groups = [...head, ...Array<string>(missing).fill("0"), ...rest];
  } else groups = head;
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const bytes = groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function parseIp(s: string): Bytes | null {
  return ipv4Bytes(s) ?? ipv6Bytes(s);
}

type Cidr = { bytes: Bytes; bits: number };

function inCidr(bytes: Bytes, c: Cidr): boolean {
  if (bytes.length !== c.bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    const have = Math.min(8, Math.max(0, c.bits - i * 8));
    const mask = (0xff << (8 - have)) & 0xff;
    if ((bytes[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}

const cidr = (text: string): Cidr => {
  const [a, b] = text.split("/") as [string, string];
  return { bytes: parseIp(a)!, bits: Number(b) };
};

const V4_FORBIDDEN: Cidr[] = [
  "0.0.0.0/8", // unspecified / "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // CGNAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments (not routable to a peer)
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, includes broadcast 255.255.255.255
].map(cidr);

const V6_FORBIDDEN: Cidr[] = [
  "::/128", // unspecified
  "::1/128", // loopback
  "64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // deprecated site-local
  "ff00::/8", // multicast
].map(cidr);

/** The IPv4 inside mapped (::ffff:a.b.c.d), compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms, else null. */
function embeddedV4(b: Bytes): Bytes | null {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12); // ::ffff:0:0/96
  if (zeros(0, 12)) return zeros(12, 15) && b[15]! <= 1 ? null : b.slice(12); // ::a.b.c.d, except :: and ::1 themselves
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12); // 64:ff9b::/96
  return null;
}

function forbiddenBytes(b: Bytes): boolean {
  if (b.length === 4) return V4_FORBIDDEN.some((c) => inCidr(b, c));
  const v4 = embeddedV4(b);
  if (v4) return forbiddenBytes(v4);
  return V6_FORBIDDEN.some((c) => inCidr(b, c));
}

/**
 * True when the address must not be contacted (unless allow-listed). Text that is not an IP address at all is
 * treated as forbidden: the guard fails closed.
 */
export function isForbiddenAddress(ip: string): boolean {
  const b = parseIp(ip.trim());
  return b === null ? true : forbiddenBytes(b);
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function normHost(h: string): string {
  let s = h.trim().toLowerCase();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.endsWith(".") && !s.includes(":")) s = s.slice(0, -1);
  return s;
}

function parseAllowEntry(raw: string): { kind: "cidr"; cidr: Cidr } | { kind: "host"; host: string } {
  const e = normHost(raw);
  const fail = (why: string) =>
    new Error(
      `outboundAllowlist: invalid entry ${JSON.stringify(raw)} (${why}); expected an IPv4/IPv6 address or CIDR such ` +
        `as "127.0.0.0/8" or "::1/128", or a host name such as "localhost"`,
    );
  const slash = e.indexOf("/");
  if (slash !== -1) {
    const addr = e.slice(0, slash);
    const bitsText = e.slice(slash + 1);
    const bytes = parseIp(addr);
    if (!bytes) throw fail("not an IP address before '/'");
    if (!/^(0|[1-9]\d{0,2})$/.test(bitsText)) throw fail("prefix length is not a decimal number");
    const bits = Number(bitsText);
    if (bits > bytes.length * 8) throw fail(`prefix length exceeds ${bytes.length * 8}`);
    return { kind: "cidr", cidr: { bytes, bits } }; // host bits beyond the prefix are ignored by inCidr
  }
  const bytes = parseIp(e);
  if (bytes) return { kind: "cidr", cidr: { bytes, bits: bytes.length * 8 } };
  if (/^[0-9.]+$/.test(e)) throw fail("malformed IPv4 address");
  if (e.includes(":")) throw fail("malformed IPv6 address");
  if (!HOSTNAME.test(e)) throw fail("not a valid host name (wildcards are not supported)");
  return { kind: "host", host: e };
}

/**
 * Entries: IPv4/IPv6 addresses or CIDRs, or exact host names (no wildcard, subdomains do not match).
 * Empty/blank entries are skipped; anything else that does not parse throws.
 */
export function parseAllowlist(entries: string[]): Allowlist {
  const cidrs: Cidr[] = [];
  const hosts = new Set<string>();
  for (const raw of entries) {
    if (typeof raw !== "string") throw new Error(`outboundAllowlist: entries must be strings, got ${typeof raw}`);
    if (raw.trim() === "") continue;
    const p = parseAllowEntry(raw);
    if (p.kind === "cidr") cidrs.push(p.cidr);
    else hosts.add(p.host);
  }
  return {
    matches(hostOrIp: string): boolean {
      const h = normHost(hostOrIp);
      if (hosts.has(h)) return true;
      const bytes = parseIp(h);
      if (!bytes) return false;
      // An IPv4-mapped IPv6 address is the same host as its IPv4 (::ffff:127.0.0.1 matches 127.0.0.0/8).
      const mapped =
        bytes.length === 16 && bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff
          ? bytes.slice(12)
          : null;
      return cidrs.some((c) => inCidr(bytes, c) || (mapped !== null && inCidr(mapped, c)));
    },
  };
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/**
 * §17 check of one outbound URL. Call it on every attempt and every redirect hop. `addresses` are the addresses the
 * decision was made on (fetch resolves again by itself; DNS rebinding between the two is not prevented here).
 */
export async function checkOutboundUrl(
  url: string | URL,
  allow: Allowlist,
  opts: { resolve?: (host: string) => Promise<string[]> } = {},
): Promise<OutboundCheck> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: "invalid_url" };
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return { ok: false, reason: "scheme_not_allowed" };
  if (u.username !== "" || u.password !== "") return { ok: false, reason: "userinfo" };
  const host = normHost(u.hostname);
  if (host === "") return { ok: false, reason: "invalid_url" };

  let addresses: string[];
  if (parseIp(host))
    addresses = [host]; // literal: never resolved (WHATWG already canonicalised 0x7f.1 etc.)
  else {
    try {
      const r = await (opts.resolve ?? defaultResolve)(host);
      addresses = Array.isArray(r) ? r.filter((a): a is string => typeof a === "string") : [];
    } catch {
      return { ok: false, reason: "dns_failure" };
    }
    if (addresses.length === 0) return { ok: false, reason: "dns_failure" };
  }

  const hostAllowed = allow.matches(host);
  const allowed = (a: string) => hostAllowed || allow.matches(a);
  if (addresses.some((a) => isForbiddenAddress(a) && !allowed(a))) return { ok: false, reason: "forbidden_address" };
  if (u.protocol === "http:" && !(hostAllowed || addresses.every((a) => allow.matches(a)))) {
    return { ok: false, reason: "scheme_not_allowed" };
  }
  return { ok: true, url: u, addresses };
}

/**
 * True iff `target` has the endpoint's origin (scheme, host, port) and its path is the endpoint path or below it.
 * Dot segments (raw or percent-encoded) and backslashes in the raw target are refused outright, so a target
 * that only lands under the endpoint after normalisation never passes.
 */
export function isUnderEndpoint(target: string, endpoint: string): boolean {
  if (/\/\.\.?(?:[/?#\\]|$)|%2e|\\/i.test(target)) return false;
  let t: URL, e: URL;
  try {
    t = new URL(target);
    e = new URL(endpoint);
  } catch {
    return false;
  }
  if (t.protocol !== "https:" && t.protocol !== "http:") return false; // other schemes have an opaque "null" origin
  if (t.origin !== e.origin) return false;
  const base = e.pathname.replace(/\/+$/, "");
  return t.pathname === base || t.pathname.startsWith(base + "/");
}
