// Issue 9 §5 — SSRF: with an EMPTY outboundAllowlist the gateway must never connect to loopback, private,
// link-local, CGNAT, multicast or IPv6-mapped forms of them — whether the address comes from a directory
// entry, from peer metadata (its endpoint) or from a redirect of a metadata fetch — and must not follow
// redirects on POST. Every outbound fetch of the process is observed (global fetch wrapped) to prove that no
// connection was even attempted; public addresses are played by that wrapper (no real network is used).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { makeOrder, TestPeer } from "../peers/kit";
import { checkOutboundUrl, parseAllowlist } from "../../src/peers/ssrf";
import { fileDone, findSecrets, hexOf, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("ssrf");

let tg: PortTestGateway; // empty allow-list
let control: PortTestGateway; // the default test allow-list (loopback): proves the refusals come from the list
let live: TestPeer; // a real peer on 127.0.0.1
const realFetch = globalThis.fetch;
const outbound: { method: string; url: string }[] = [];
const fakes = new Map<string, (method: string, url: URL, body: string) => Response>();
let passHosts = new Set<string>();

function installFetchSpy() {
  const spy = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (passHosts.has(url.host)) return realFetch(input as string, init); // the test talking to its gateways
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    outbound.push({ method, url: url.href });
    const fake = fakes.get(url.host);
    if (fake) {
      const body = init?.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : typeof init?.body === "string" ? init.body : "";
      return fake(method, url, body);
    }
    if (url.hostname === "127.0.0.1") return realFetch(input as string, init);
    throw new TypeError(`test network: ${url.host} is unreachable`);
  };
  globalThis.fetch = Object.assign(spy, { preconnect: realFetch.preconnect }) as typeof fetch;
}

beforeAll(async () => {
  tg = await startPortTestGateway({
    outboundAllowlist: [],
    rateLimits: NO_RATE_LIMITS,
    partners: [{ ocid: 801, reserveCurrencies: ["USD"] }, { ocid: 802, reserveCurrencies: ["USD"] }],
    outboundTimeouts: { settlementMs: 1000, webhookMs: 1000 },
  });
  control = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
  live = await TestPeer.start({ ocid: 700, name: "Loopback peer" });
  live.trustGateway(200, tg.gw.key.publicKeyHex);
  passHosts = new Set([new URL(tg.url).host, new URL(control.url).host]);
  installFetchSpy();
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  const leaks = findSecrets([...tg.logs, ...control.logs], [
    { label: "gateway private key", value: hexOf(tg.gw.key.secret) },
    { label: "control private key", value: hexOf(control.gw.key.secret) },
  ]);
  await live.stop();
  await tg.close();
  await control.close();
  fileDone(import.meta.path);
  expect(leaks).toEqual([]);
});

/** A metadata document for `peer` published at a fake public address, with any endpoint we like. */
function metadataFor(peer: TestPeer, endpoint: string) {
  const config = { publicKey: peer.publicKeyHex, endpoint, capabilities: ["transfer.create", "transfer.webhook"], settlement: { currencies: ["USD"], accepts: [] } };
  return { opencharge: "0.1", name: peer.name, config, signature: peer.signProof(config) };
}
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const redirect = (to: string, status = 302) => new Response(null, { status, headers: { location: to } });

const FORBIDDEN_TARGETS = [
  "http://127.0.0.1:PORT/opencharge",
  "https://127.0.0.1/opencharge",
  "http://localhost:PORT/opencharge",
  "https://10.0.0.1/opencharge",
  "https://172.16.5.4/opencharge",
  "https://172.31.255.255/opencharge",
  "https://192.168.1.1/opencharge",
  "https://169.254.169.254/latest/meta-data",
  "https://100.64.0.1/opencharge",
  "https://0.0.0.0/opencharge",
  "https://[::1]/opencharge",
  "https://[::]/opencharge",
  "https://[::ffff:127.0.0.1]/opencharge",
  "https://[::ffff:a9fe:a9fe]/opencharge",
  "https://[::ffff:10.1.2.3]/opencharge",
  "https://[::127.0.0.1]/opencharge",
  "https://[64:ff9b::a9fe:a9fe]/opencharge",
  "https://[fe80::1]/opencharge",
  "https://[fc00::1]/opencharge",
  "https://[fd12:3456::1]/opencharge",
  "https://[ff02::1]/opencharge",
  "https://224.0.0.1/opencharge",
  "https://255.255.255.255/opencharge",
  "https://2130706433/opencharge", // 127.0.0.1 as one decimal number
  "https://0x7f000001/opencharge", // … in hex
  "https://0177.0.0.1/opencharge", // … in octal
  "https://127.1/opencharge", // … shortened
  "https://198.18.0.1/opencharge",
  "http://93.184.216.34/opencharge", // public, but plain http without an allow-list entry
];

test("directory entries pointing at loopback, private, link-local, CGNAT, multicast and mapped addresses are never fetched", async () => {
  const problems: string[] = [];
  for (const [i, raw] of FORBIDDEN_TARGETS.entries()) {
    const target = raw.replace("PORT", String(live.url.split(":").pop()));
    const ocid = 7000 + i;
    const peer = TestPeer.offline({ ocid, name: `ssrf ${i}` });
    await tg.gw.directory.add(ocid, target);
    const mark = outbound.length;
    const fetchesBefore = live.metadataFetches;
    const r = await peer.call(tg.url, "GET", "/opencharge/capabilities");
    tally.tried("ssrf");
    tally.status("ssrf", r.status);
    const host = new URL(target).host;
    const attempted = outbound.slice(mark).filter((o) => new URL(o.url).host === host);
    if (r.status !== 502 || r.json?.error?.code !== "METADATA_UNAVAILABLE" || !String(r.json?.error?.details?.reason).startsWith("outbound_"))
      problems.push(`${target}: ${r.status} ${r.text}`);
    if (attempted.length || live.metadataFetches !== fetchesBefore) problems.push(`${target}: a connection was attempted`);
  }
  expect(problems).toEqual([]);
  // Control: the same loopback entry on a gateway whose allow-list has 127.0.0.0/8 is fetched and works.
  live.trustGateway(200, control.gw.key.publicKeyHex);
  await control.gw.directory.add(700, live.endpoint);
  expect((await live.call(control.url, "GET", "/opencharge/capabilities")).status).toBe(200);
  expect(live.metadataFetches).toBe(1);
  tally.note("ssrf", `${FORBIDDEN_TARGETS.length} directory targets refused before connecting (control gateway with loopback allow-listed: fetched)`);
});

test("checkOutboundUrl with an injected resolver: a host name is judged by every address it resolves to", async () => {
  const none = parseAllowlist([]);
  const dns: Record<string, string[]> = {
    "rebind.example": ["127.0.0.1"],
    "private.example": ["10.20.30.40"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "mapped.example": ["::ffff:192.168.0.1"],
    "linklocal6.example": ["fe80::1%eth0"],
    "metadata.example": ["169.254.169.254"],
    "cgnat.example": ["100.100.100.100"],
    "ula.example": ["fd00::abcd"],
    "zero.example": ["0.0.0.0"],
    "nat64.example": ["64:ff9b::7f00:1"],
    "empty.example": [],
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "internal.corp": ["10.9.9.9"],
  };
  const resolve = async (h: string) => {
    if (!(h in dns)) throw new Error("NXDOMAIN");
    return dns[h]!;
  };
  const cases: [string, string[], boolean, string?][] = [
    ["https://rebind.example/x", [], false, "forbidden_address"],
    ["https://private.example/x", [], false, "forbidden_address"],
    ["https://mixed.example/x", [], false, "forbidden_address"],
    ["https://mapped.example/x", [], false, "forbidden_address"],
    ["https://linklocal6.example/x", [], false, "forbidden_address"],
    ["https://metadata.example/x", [], false, "forbidden_address"],
    ["https://cgnat.example/x", [], false, "forbidden_address"],
    ["https://ula.example/x", [], false, "forbidden_address"],
    ["https://zero.example/x", [], false, "forbidden_address"],
    ["https://nat64.example/x", [], false, "forbidden_address"],
    ["https://empty.example/x", [], false, "dns_failure"],
    ["https://nxdomain.example/x", [], false, "dns_failure"],
    ["http://public.example/x", [], false, "scheme_not_allowed"],
    ["https://user:pw@public.example/x", [], false, "userinfo"],
    ["ftp://public.example/x", [], false, "scheme_not_allowed"],
    ["file:///etc/passwd", [], false, "scheme_not_allowed"],
    ["gopher://public.example/x", [], false, "scheme_not_allowed"],
    ["not a url", [], false, "invalid_url"],
    ["https://public.example/x", [], true],
    ["https://internal.corp/x", ["internal.corp"], true], // allow-listed by name
    ["https://internal.corp/x", ["10.0.0.0/8"], true], // allow-listed by range
    ["https://rebind.example/x", ["10.0.0.0/8"], false, "forbidden_address"], // the range does not cover loopback
    ["http://internal.corp/x", ["10.0.0.0/8"], true], // plain http only because every address is allow-listed
    ["https://mapped.example/x", ["192.168.0.0/16"], true], // a mapped address matches its IPv4 range
  ];
  const problems: string[] = [];
  for (const [url, allow, ok, reason] of cases) {
    const r = await checkOutboundUrl(url, allow.length ? parseAllowlist(allow) : none, { resolve });
    tally.tried("ssrf");
    const got = r.ok ? "ok" : r.reason;
    if (got !== (ok ? "ok" : reason)) problems.push(`${url} with [${allow}]: ${got}, expected ${ok ? "ok" : reason}`);
  }
  expect(problems).toEqual([]);
});

test("metadata redirects: at most 3 hops, every hop re-checked; a hop to a forbidden address is never followed", async () => {
  const mk = (ocid: number) => TestPeer.offline({ ocid, name: `redirected ${ocid}` });
  const chains: { ocid: number; start: string; hops: (peer: TestPeer) => void; ok: boolean; forbiddenHost?: string }[] = [
    { ocid: 8201, start: "93.184.216.1", ok: false, forbiddenHost: "169.254.169.254", hops: () => fakes.set("93.184.216.1", () => redirect("http://169.254.169.254/latest/meta-data/")) },
    { ocid: 8202, start: "93.184.216.2", ok: false, forbiddenHost: "[::ffff:7f00:1]", hops: () => fakes.set("93.184.216.2", () => redirect("https://[::ffff:127.0.0.1]/metadata.json", 301)) },
    { ocid: 8203, start: "93.184.216.3", ok: false, forbiddenHost: "10.0.0.8", hops: () => fakes.set("93.184.216.3", () => redirect("https://10.0.0.8/metadata.json", 307)) },
    { ocid: 8204, start: "93.184.216.4", ok: false, forbiddenHost: "127.0.0.1", hops: () => fakes.set("93.184.216.4", () => redirect(`http://127.0.0.1:${live.url.split(":").pop()}/opencharge/metadata.json`, 308)) },
    {
      ocid: 8205,
      start: "93.184.216.5",
      ok: true, // three hops between public hosts, then the document
      hops: (p) => {
        fakes.set("93.184.216.5", () => redirect("https://93.184.216.6/a"));
        fakes.set("93.184.216.6", () => redirect("https://93.184.216.7/b"));
        fakes.set("93.184.216.7", () => redirect("https://93.184.216.8/metadata.json"));
        fakes.set("93.184.216.8", () => json(metadataFor(p, "https://93.184.216.8/opencharge")));
      },
    },
    {
      ocid: 8206,
      start: "93.184.216.9",
      ok: false, // four hops
      hops: (p) => {
        fakes.set("93.184.216.9", () => redirect("https://93.184.216.10/a"));
        fakes.set("93.184.216.10", () => redirect("https://93.184.216.11/b"));
        fakes.set("93.184.216.11", () => redirect("https://93.184.216.12/c"));
        fakes.set("93.184.216.12", () => redirect("https://93.184.216.13/metadata.json"));
        fakes.set("93.184.216.13", () => json(metadataFor(p, "https://93.184.216.13/opencharge")));
      },
    },
    {
      ocid: 8207,
      start: "93.184.216.14",
      ok: true, // a relative redirect stays on the (checked) host
      hops: (p) => fakes.set("93.184.216.14", (_m, url) => (url.pathname === "/final.json" ? json(metadataFor(p, "https://93.184.216.14/opencharge")) : redirect("/final.json"))),
    },
    { ocid: 8208, start: "93.184.216.16", ok: false, forbiddenHost: "93.184.216.15", hops: () => fakes.set("93.184.216.16", () => redirect("https://user:pw@93.184.216.15/metadata.json")) },
    { ocid: 8209, start: "93.184.216.17", ok: false, hops: () => fakes.set("93.184.216.17", () => redirect("file:///etc/passwd")) },
  ];
  const problems: string[] = [];
  const reasons: string[] = [];
  for (const c of chains) {
    const peer = mk(c.ocid);
    c.hops(peer);
    await tg.gw.directory.add(c.ocid, `https://${c.start}/metadata.json`);
    const mark = outbound.length;
    const r = await peer.call(tg.url, "GET", "/opencharge/capabilities");
    tally.tried("ssrf");
    tally.status("ssrf", r.status);
    const hosts = outbound.slice(mark).map((o) => new URL(o.url).hostname);
    reasons.push(`${c.ocid}: ${r.status} ${r.json?.error?.details?.reason ?? ""} via ${hosts.join(" → ")}`);
    if (c.ok && r.status !== 200) problems.push(`${c.ocid}: expected 200, got ${r.status} ${r.text}`);
    if (!c.ok && !(r.status === 502 && r.json.error.code === "METADATA_UNAVAILABLE")) problems.push(`${c.ocid}: expected 502, got ${r.status} ${r.text}`);
    if (c.forbiddenHost && hosts.includes(c.forbiddenHost)) problems.push(`${c.ocid}: followed the redirect to ${c.forbiddenHost}`);
    if (hosts.length > 4) problems.push(`${c.ocid}: ${hosts.length} fetches (more than 1 + 3 redirects)`);
  }
  tally.note("ssrf", `metadata redirect chains: ${reasons.join("; ")}`);
  expect(problems).toEqual([]);
  expect(live.received.length).toBe(0);
});

test("outbound POSTs: a 307 from a partner is not followed, an endpoint on a private address is not called; the order fails and is refunded", async () => {
  const merchant = TestPeer.offline({ ocid: 500, name: "Shop (public)" });
  const p801 = TestPeer.offline({ ocid: 801, name: "Partner redirecting" });
  const p802 = TestPeer.offline({ ocid: 802, name: "Partner on a private address" });
  fakes.set("93.184.216.50", (_m, url) => (url.pathname.endsWith("/metadata.json") ? json(metadataFor(merchant, "https://93.184.216.50/opencharge")) : json({ status: "accepted" })));
  const stolen = `http://127.0.0.1:${live.url.split(":").pop()}/opencharge/steal`;
  fakes.set("93.184.216.51", (method, url) =>
    url.pathname.endsWith("/metadata.json") ? json(metadataFor(p801, "https://93.184.216.51/opencharge")) : redirect(stolen, 307),
  );
  fakes.set("93.184.216.52", () => json(metadataFor(p802, "https://10.0.0.7/opencharge")));
  await tg.gw.directory.add(500, "https://93.184.216.50/opencharge");
  await tg.gw.directory.add(801, "https://93.184.216.51/opencharge");
  await tg.gw.directory.add(802, "https://93.184.216.52/opencharge");
  const { user, token } = await seedUser(tg, "ssrf-user", "USD:50.00");
  const s = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
  const order = makeOrder(500, { accepts: [801, 802], amount: "20.00" });
  const mark = outbound.length;
  const sub = await merchant.call(tg.url, "POST", `/opencharge/orders/create/${s}`, { order, signature: merchant.signOrder(order), urls: {} });
  expect(sub.status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s}`, {})).status).toBe(200);
  await waitUntil("the order to fail", async () => (await tg.gw.store.read((tx) => tx.orders.bySession(s)))?.status === "failed", 10_000);
  tally.tried("ssrf", 2);
  const calls = outbound.slice(mark);
  const posts = calls.filter((c) => c.method === "POST");
  expect(posts.map((c) => c.url)).toEqual(["https://93.184.216.51/opencharge/transfer/create"]);
  expect(calls.some((c) => c.url.includes("10.0.0.7") || c.url.includes("/steal"))).toBe(false);
  expect(live.received.length).toBe(0);
  const job = (await tg.gw.store.read(async (tx) => tx.jobs.byOrder((await tx.orders.bySession(s))!.id)))!;
  expect(job.lastError).toContain("outbound_forbidden_address");
  expect((await portBalance(tg, `user:${user.id}`))).toBe(5000n);
  expect((await portBalance(tg, "settlement_in_flight"))).toBe(0n);
  await assertPortLedgerBalanced(tg);
  tally.note("ssrf", "POST answered 307 → not followed (next path); endpoint on 10.0.0.7 → refused before connecting; order failed, user refunded in full");
});
