import { describe, expect, test } from "bun:test";
import { checkOutboundUrl, isForbiddenAddress, isUnderEndpoint, parseAllowlist } from "../../src/peers/ssrf";

const FORBIDDEN: string[] = [
  // loopback
  "127.0.0.1", "127.255.255.255", "127.1.2.3", "::1",
  // private
  "10.0.0.0", "10.255.255.255", "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255",
  "fc00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  // link-local
  "169.254.0.0", "169.254.169.254", "169.254.255.255", "fe80::", "fe80::1%eth0", "febf:ffff::1",
  // CGNAT
  "100.64.0.0", "100.127.255.255",
  // unspecified
  "0.0.0.0", "0.255.255.255", "::", "0:0:0:0:0:0:0:0",
  // multicast
  "224.0.0.0", "239.255.255.255", "ff02::1", "ff00::",
  // broadcast and 240/4 reserved
  "255.255.255.255", "240.0.0.0", "250.1.2.3",
  // IPv4-mapped / compatible / NAT64 forms of forbidden IPv4
  "::ffff:127.0.0.1", "::ffff:7f00:1", "::FFFF:7F00:0001", "0:0:0:0:0:ffff:127.0.0.1", "::127.0.0.1",
  "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "::ffff:100.64.0.1", "::ffff:0.0.0.0",
  "64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "::ffff:255.255.255.255", "::10.1.2.3",
  // not an address at all: fail closed
  "localhost", "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1::",
];

const ALLOWED: string[] = [
  "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0",
  "169.253.255.255", "169.255.0.0", "192.167.255.255", "192.169.0.0", "11.0.0.0", "9.255.255.255",
  "126.255.255.255", "128.0.0.0", "1.0.0.0", "223.255.255.255",
  "2606:4700::1", "2001:4860:4860::8888", "2a00:1450:4001:82a::200e", "fbff:ffff::1", "2400:cb00::1",
  "::ffff:8.8.8.8", "::ffff:808:808", "64:ff9b::8.8.8.8", "::8.8.8.8", "::ffff:172.15.255.255",
];

describe("isForbiddenAddress", () => {
  for (const ip of FORBIDDEN) test(`forbidden: ${JSON.stringify(ip)}`, () => expect(isForbiddenAddress(ip)).toBe(true));
  for (const ip of ALLOWED) test(`allowed: ${ip}`, () => expect(isForbiddenAddress(ip)).toBe(false));
});

describe("parseAllowlist", () => {
  test("IPv4 CIDR 127.0.0.0/8", () => {
    const a = parseAllowlist(["127.0.0.0/8"]);
    expect(a.matches("127.0.0.1")).toBe(true);
    expect(a.matches("127.255.255.255")).toBe(true);
    expect(a.matches("128.0.0.1")).toBe(false);
    expect(a.matches("::ffff:127.0.0.1")).toBe(true); // mapped form is the same host
    expect(a.matches("[::ffff:7f00:1]")).toBe(true);
    expect(a.matches("::1")).toBe(false);
    expect(a.matches("localhost")).toBe(false);
  });

  test("IPv6 CIDR, bare addresses, odd prefix lengths, host names", () => {
    const a = parseAllowlist(["::1/128", "10.1.2.3", "fd00::/8", "192.168.4.0/22", "Peer.Internal", "  ", ""]);
    expect(a.matches("::1")).toBe(true);
    expect(a.matches("[::1]")).toBe(true);
    expect(a.matches("::2")).toBe(false);
    expect(a.matches("10.1.2.3")).toBe(true);
    expect(a.matches("10.1.2.4")).toBe(false);
    expect(a.matches("fd12::1")).toBe(true);
    expect(a.matches("fc00::1")).toBe(false);
    expect(a.matches("192.168.4.0")).toBe(true);
    expect(a.matches("192.168.7.255")).toBe(true);
    expect(a.matches("192.168.8.0")).toBe(false);
    expect(a.matches("192.168.3.255")).toBe(false);
    expect(a.matches("peer.internal")).toBe(true);
    expect(a.matches("PEER.internal.")).toBe(true);
    expect(a.matches("sub.peer.internal")).toBe(false); // exact names only
  });

  test("0.0.0.0/0 and ::/0 match every address of their family", () => {
    const a = parseAllowlist(["0.0.0.0/0"]);
    expect(a.matches("8.8.8.8")).toBe(true);
    expect(a.matches("2606:4700::1")).toBe(false);
    expect(parseAllowlist(["::/0"]).matches("2606:4700::1")).toBe(true);
  });

  test("empty allowlist matches nothing", () => {
    const a = parseAllowlist([]);
    for (const h of ["127.0.0.1", "::1", "localhost", "8.8.8.8"]) expect(a.matches(h)).toBe(false);
  });

  for (const bad of ["10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.0/8/9", "10.0.0.0/ 8", "10.0.0.0/0x8", "10.0.0.0/08",
    "300.1.1.1", "1.2.3", "010.0.0.1", "::g", "1::2::3", "*.example.com", "foo bar", "http://x", "a..b", "-bad.example", "host/8"]) {
    test(`invalid entry throws: ${JSON.stringify(bad)}`, () => {
      expect(() => parseAllowlist([bad])).toThrow(/outboundAllowlist: invalid entry/);
    });
  }
});

const resolver = (table: Record<string, string[]>) => async (host: string) => {
  const r = table[host];
  if (!r) throw new Error("ENOTFOUND " + host);
  return r;
};

describe("checkOutboundUrl", () => {
  const none = parseAllowlist([]);
  const loop = parseAllowlist(["127.0.0.0/8"]);

  test("127.0.0.0/8 permits http://127.0.0.1", async () => {
    const r = await checkOutboundUrl("http://127.0.0.1:8080/opencharge/metadata.json", loop);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.addresses).toEqual(["127.0.0.1"]);
      expect(r.url.href).toBe("http://127.0.0.1:8080/opencharge/metadata.json");
    }
  });

  test("empty allowlist refuses http://127.0.0.1 and https://127.0.0.1 with a reason", async () => {
    expect(await checkOutboundUrl("http://127.0.0.1/", none)).toEqual({ ok: false, reason: "forbidden_address" });
    expect(await checkOutboundUrl("https://127.0.0.1/", none)).toEqual({ ok: false, reason: "forbidden_address" });
  });

  test("literal IPs in other spellings are caught (WHATWG canonicalisation, brackets, mapped forms)", async () => {
    for (const u of ["https://0x7f.1/", "https://2130706433/", "https://127.1/", "https://[::1]/", "https://[::ffff:127.0.0.1]/",
      "https://[::ffff:7f00:1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://0/", "https://[::]/", "https://169.254.169.254/latest"]) {
      const r = await checkOutboundUrl(u, none, { resolve: async () => { throw new Error("literal must not be resolved"); } });
      expect({ u, r }).toEqual({ u, r: { ok: false, reason: "forbidden_address" } });
    }
  });

  test("mapped IPv6 literal of an allow-listed IPv4 passes", async () => {
    const r = await checkOutboundUrl("http://[::ffff:127.0.0.1]:9/", loop);
    expect(r.ok).toBe(true);
  });

  test("hostname localhost resolves to loopback and is refused unless allow-listed", async () => {
    const r1 = await checkOutboundUrl("https://localhost/opencharge", none); // default resolver (system lookup)
    expect(r1).toEqual({ ok: false, reason: "forbidden_address" });
    expect(await checkOutboundUrl("http://localhost/", none)).toEqual({ ok: false, reason: "forbidden_address" });
    const byName = await checkOutboundUrl("http://localhost:1234/x", parseAllowlist(["localhost"]));
    expect(byName.ok).toBe(true);
    if (byName.ok) expect(byName.addresses.length).toBeGreaterThan(0);
    // allow-listed by address: localhost's addresses must all be covered (127/8 and ::1)
    const byAddr = await checkOutboundUrl("https://localhost/", parseAllowlist(["127.0.0.0/8", "::1/128"]));
    expect(byAddr.ok).toBe(true);
  });

  test("injected resolver: private address refused, public passes over https, mixes refused", async () => {
    const resolve = resolver({
      "peer.example": ["10.0.0.1"],
      "public.example": ["93.184.216.34"],
      "mixed.example": ["93.184.216.34", "2606:4700::1", "192.168.1.10"],
      "mapped.example": ["::ffff:127.0.0.1"],
      "v6.example": ["2606:4700::1", "fe80::1%2"],
    });
    expect(await checkOutboundUrl("https://peer.example/opencharge", none, { resolve })).toEqual({ ok: false, reason: "forbidden_address" });
    const ok = await checkOutboundUrl("https://public.example/opencharge", none, { resolve });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.addresses).toEqual(["93.184.216.34"]);
    expect(await checkOutboundUrl("https://mixed.example/", none, { resolve })).toEqual({ ok: false, reason: "forbidden_address" });
    expect(await checkOutboundUrl("https://mapped.example/", none, { resolve })).toEqual({ ok: false, reason: "forbidden_address" });
    expect(await checkOutboundUrl("https://v6.example/", none, { resolve })).toEqual({ ok: false, reason: "forbidden_address" });
    // the private address may be allow-listed by address or the host by name
    expect((await checkOutboundUrl("https://peer.example/", parseAllowlist(["10.0.0.0/8"]), { resolve })).ok).toBe(true);
    expect((await checkOutboundUrl("https://peer.example/", parseAllowlist(["peer.example"]), { resolve })).ok).toBe(true);
    // allow-listing only the private part of a mix is enough for https (public addresses are fine anyway)
    expect((await checkOutboundUrl("https://mixed.example/", parseAllowlist(["192.168.0.0/16"]), { resolve })).ok).toBe(true);
  });

  test("http: needs the host or every resolved address allow-listed, even for public addresses", async () => {
    const resolve = resolver({ "public.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.1"] });
    expect(await checkOutboundUrl("http://public.example/", none, { resolve })).toEqual({ ok: false, reason: "scheme_not_allowed" });
    expect(await checkOutboundUrl("http://8.8.8.8/", none)).toEqual({ ok: false, reason: "scheme_not_allowed" });
    expect((await checkOutboundUrl("http://public.example/", parseAllowlist(["public.example"]), { resolve })).ok).toBe(true);
    expect((await checkOutboundUrl("http://public.example/", parseAllowlist(["93.184.216.0/24"]), { resolve })).ok).toBe(true);
    expect(await checkOutboundUrl("http://mixed.example/", parseAllowlist(["10.0.0.0/8"]), { resolve })).toEqual({ ok: false, reason: "scheme_not_allowed" });
  });

  test("other schemes, userinfo, invalid URLs, DNS failures", async () => {
    const resolve = resolver({ "public.example": ["93.184.216.34"], "empty.example": [] });
    const cases: [string, string][] = [
      ["ftp://public.example/", "scheme_not_allowed"],
      ["file:///etc/passwd", "scheme_not_allowed"],
      ["ws://127.0.0.1/", "scheme_not_allowed"],
      ["javascript:alert(1)", "scheme_not_allowed"],
      ["https://user:pass@public.example/", "userinfo"],
      ["https://user@public.example/", "userinfo"],
      ["https://:pass@public.example/", "userinfo"],
      ["not a url", "invalid_url"],
      ["https://", "invalid_url"],
      ["/relative/path", "invalid_url"],
      ["https://nowhere.example/", "dns_failure"],
      ["https://empty.example/", "dns_failure"],
    ];
    for (const [u, reason] of cases) {
      expect({ u, r: await checkOutboundUrl(u, loop, { resolve }) }).toEqual({ u, r: { ok: false, reason } });
    }
  });

  test("accepts a URL object and strips IPv6 brackets before resolving/matching", async () => {
    const r = await checkOutboundUrl(new URL("https://[2606:4700::1]:8443/x"), none);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.addresses).toEqual(["2606:4700::1"]);
    const seen: string[] = [];
    await checkOutboundUrl("https://Public.Example./", none, { resolve: async (h) => (seen.push(h), ["93.184.216.34"]) });
    expect(seen).toEqual(["public.example"]);
  });
});

describe("isUnderEndpoint", () => {
  const ep = "https://peer.example/opencharge";
  const yes = [
    "https://peer.example/opencharge",
    "https://peer.example/opencharge/",
    "https://peer.example/opencharge/orders/create/abc",
    "https://peer.example:443/opencharge/transfer/create",
    "https://PEER.example/opencharge/orders/ord_1/status?x=1",
  ];
  const no = [
    "https://peer.example/opencharge-evil",
    "https://peer.example/opencharge-evil/orders",
    "https://peer.example/opencharg",
    "https://peer.example/",
    "https://peer.example/admin",
    "https://peer.example:8443/opencharge/orders",
    "http://peer.example/opencharge/orders",
    "https://evil.example/opencharge/orders",
    "https://peer.example.evil.example/opencharge/orders",
    "https://peer.example@evil.example/opencharge/orders",
    "https://peer.example/opencharge/../admin",
    "https://peer.example/opencharge/./orders",
    "https://peer.example/opencharge/..",
    "https://peer.example/opencharge/%2e%2e/admin",
    "https://peer.example/opencharge/%2E%2E/admin",
    "https://peer.example/opencharge/.%2e/admin",
    "https://peer.example/opencharge\\..\\admin",
    "https://peer.example/OpenCharge/orders",
    "not a url",
  ];
  for (const t of yes) test(`under: ${t}`, () => expect(isUnderEndpoint(t, ep)).toBe(true));
  for (const t of no) test(`not under: ${t}`, () => expect(isUnderEndpoint(t, ep)).toBe(false));

  test("endpoint with trailing slash, root endpoint, explicit port, non-http schemes", () => {
    expect(isUnderEndpoint("https://peer.example/opencharge/orders", "https://peer.example/opencharge/")).toBe(true);
    expect(isUnderEndpoint("https://peer.example/opencharge-evil", "https://peer.example/opencharge/")).toBe(false);
    expect(isUnderEndpoint("https://peer.example/anything", "https://peer.example")).toBe(true);
    expect(isUnderEndpoint("http://127.0.0.1:4001/opencharge/x", "http://127.0.0.1:4001/opencharge")).toBe(true);
    expect(isUnderEndpoint("http://127.0.0.1:4002/opencharge/x", "http://127.0.0.1:4001/opencharge")).toBe(false);
    expect(isUnderEndpoint("foo://a/opencharge/x", "bar://b/opencharge")).toBe(false);
  });
});
