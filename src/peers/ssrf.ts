// §17 outbound URL rules: https only (http for allow-listed hosts), no userinfo, and no target that resolves to
// loopback/private/link-local/CGNAT/unspecified/multicast/broadcast space unless allow-listed.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export type Allowlist = { matches(hostOrIp: string): boolean };
export type OutboundCheck = { ok: true; url: URL; addresses: string[] } | { ok: false; reason: string };

function ipv4Bytes(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

/** IPv6 text → 16 bytes (handles `::` and an embedded dotted IPv4), or null. */
function ipv6Bytes(s: string): number[] | null {
  let text = s.replace(/^\[|\]$/g, "").split("%")[0]!;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === "" ? [] : h.split(":"));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - rest.length).fill("0"), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const bytes = groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function inV4(b: number[], net: number[], bits: number): boolean {
  for (let i = 0; i < 4; i++) {
    const m = bits >= (i + 1) * 8 ? 0xff : bits <= i * 8 ? 0 : (0xff << (8 - (bits - i * 8))) & 0xff;
    if ((b[i]! & m) !== (net[i]! & m)) return false;
  }
  return true;
}

const V4_FORBIDDEN: [number[], number][] = [
  [[0, 0, 0, 0], 8], [[10, 0, 0, 0], 8], [[100, 64, 0, 0], 10], [[127, 0, 0, 0], 8], [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12], [[192, 0, 0, 0], 24], [[192, 168, 0, 0], 16], [[198, 18, 0, 0], 15], [[224, 0, 0, 0], 4], [[240, 0, 0, 0], 4],
];

/** Embedded IPv4 of mapped (::ffff:a.b.c.d), compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms. */
function embeddedV4(b: number[]): number[] | null {
  const zeros = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  if (zeros(12) && !(b[12] === 0 && b[13] === 0 && b[14] === 0 && (b[15] === 0 || b[15] === 1))) return b.slice(12);
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return b.slice(12);
  return null;
}

export function isForbiddenAddress(ip: string): boolean {
  const v4 = ipv4Bytes(ip);
  if (v4) return V4_FORBIDDEN.some(([net, bits]) => inV4(v4, net, bits));
  const b = ipv6Bytes(ip);
  if (!b) return true;
  const e = embeddedV4(b);
  if (e) return isForbiddenAddress(e.join("."));
  if (b.every((x) => x === 0)) return true; // ::
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return true; // ::1
  if ((b[0]! & 0xfe) === 0xfc) return true; // fc00::/7
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true; // fe80::/10
  if (b[0] === 0xff) return true; // multicast
  return false;
}

type Cidr = { bytes: number[]; bits: number };

function parseCidr(entry: string): Cidr | null {
  const [addr, bitsText] = entry.split("/") as [string, string?];
  const bytes = ipv4Bytes(addr) ?? ipv6Bytes(addr);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
  return { bytes, bits };
}

function inCidr(bytes: number[], c: Cidr): boolean {
  if (bytes.length !== c.bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    const have = Math.min(8, Math.max(0, c.bits - i * 8));
    const m = have === 0 ? 0 : (0xff << (8 - have)) & 0xff;
    if ((bytes[i]! & m) !== (c.bytes[i]! & m)) return false;
  }
  return true;
}

export function parseAllowlist(entries: string[]): Allowlist {
  const cidrs: Cidr[] = [];
  const hosts = new Set<string>();
  for (const raw of entries) {
    const e = raw.trim().toLowerCase();
    if (!e) continue;
    const c = parseCidr(e);
    if (c) cidrs.push(c);
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(e) && !e.includes("/")) hosts.add(e);
    else throw new Error(`outboundAllowlist: "${raw}" is neither a CIDR, an address nor a host name`);
  }
  return {
    matches(hostOrIp: string): boolean {
      const h = hostOrIp.replace(/^\[|\]$/g, "").toLowerCase();
      if (hosts.has(h)) return true;
      const bytes = ipv4Bytes(h) ?? ipv6Bytes(h);
      if (!bytes) return false;
      const v4 = bytes.length === 16 ? embeddedV4(bytes) : null;
      return cidrs.some((c) => inCidr(bytes, c) || (v4 !== null && inCidr(v4, c)));
    },
  };
}

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
  if (u.username || u.password) return { ok: false, reason: "userinfo" };
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol !== "https:" && u.protocol !== "http:") return { ok: false, reason: "scheme_not_allowed" };
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = opts.resolve ? await opts.resolve(host) : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      return { ok: false, reason: "dns_failure" };
    }
    if (addresses.length === 0) return { ok: false, reason: "dns_failure" };
  }
  const hostAllowed = allow.matches(host);
  const allowed = (a: string) => hostAllowed || allow.matches(a);
  if (u.protocol === "http:" && !(hostAllowed || addresses.every((a) => allow.matches(a)))) return { ok: false, reason: "scheme_not_allowed" };
  if (addresses.some((a) => isForbiddenAddress(a) && !allowed(a))) return { ok: false, reason: "forbidden_address" };
  return { ok: true, url: u, addresses };
}

/** Same origin as the endpoint and a path at or below it; dot segments and their encodings are refused. */
export function isUnderEndpoint(target: string, endpoint: string): boolean {
  if (/\/\.\.?(\/|$|\?)|%2e/i.test(target)) return false;
  let t: URL, e: URL;
  try {
    t = new URL(target);
    e = new URL(endpoint);
  } catch {
    return false;
  }
  if (t.origin !== e.origin) return false;
  const base = e.pathname.replace(/\/+$/, "");
  return t.pathname === base || t.pathname.startsWith(base + "/");
}
