// Issue 4: request authentication over the raw bytes, nonce store, directory and metadata, response signing.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { TestPeer } from "../peers/kit";
import { startMerchant } from "../helpers/merchant";
import { dbDigestOf } from "../helpers/inspect";
import { cliWhere } from "../helpers/admin";

let tg: PortTestGateway;
let peer: TestPeer;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
const CAP = "/opencharge/capabilities";

beforeAll(async () => {
  tg = await startPortTestGateway({ partners: [{ ocid: 500, reserveCurrencies: ["USD"] }], rateLimits: NO_RATE_LIMITS }, { clock: now });
  peer = await startMerchant(tg, 500);
});
afterAll(async () => {
  await peer.stop();
  await tg.close();
});
afterEach(() => {
  offset.s = 0;
});

test("a valid signed request passes, and the response is signed by the gateway", async () => {
  const r = await peer.call(tg.url, "GET", CAP);
  expect(r.status).toBe(200);
  expect(r.responseSignatureValid).toBe(true);
  expect(r.json).toEqual({
    ocid: 200,
    name: tg.gw.config.name,
    capabilities: ["checkout.create", "orders.create.session", "transfer.create", "transfer.webhook"],
    settlement: { currencies: ["USD", "EUR"], accepts: [] },
    partner: { reserveCurrencies: ["USD"], accounts: [] },
  });
});

test("route-relative signatures are accepted (path minus the mount)", async () => {
  const r = await peer.call(tg.url, "GET", CAP, undefined, { signPath: "/capabilities" });
  expect(r.status).toBe(200);
});

test("each header missing or malformed → 401 INVALID_SIGNATURE with reason and header; errors are signed too", async () => {
  const headers = ["X-OC-ID", "X-OC-Timestamp", "X-OC-Nonce", "X-OC-Signature"];
  for (const h of headers) {
    const r = await peer.call(tg.url, "GET", CAP, undefined, { tamper: (x) => void delete x[h] });
    expect(r.status).toBe(401);
    expect(r.json.error).toEqual({ code: "INVALID_SIGNATURE", message: "Missing authentication header", details: { reason: "missing_header", header: h } });
    expect(r.responseSignatureValid).toBe(true);
  }
  const bad: Record<string, string> = { "X-OC-ID": "0500", "X-OC-Timestamp": "17e9", "X-OC-Nonce": "has space", "X-OC-Signature": "zz" };
  for (const [h, v] of Object.entries(bad)) {
    const r = await peer.call(tg.url, "GET", CAP, undefined, { tamper: (x) => void (x[h] = v) });
    expect(r.status).toBe(401);
    expect(r.json.error.details).toEqual({ reason: "malformed_header", header: h });
  }
});

test("timestamp at ±300 s passes, at ±301 s fails", async () => {
  for (const d of [300, -300]) expect((await peer.call(tg.url, "GET", CAP, undefined, { timestamp: now() + d })).status).toBe(200);
  for (const d of [301, -301]) {
    const r = await peer.call(tg.url, "GET", CAP, undefined, { timestamp: now() + d });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe("TIMESTAMP_EXPIRED");
  }
});

test("the same nonce twice, and from 50 concurrent requests: exactly one passes", async () => {
  expect((await peer.call(tg.url, "GET", CAP, undefined, { nonce: "n-seq-1" })).status).toBe(200);
  const again = await peer.call(tg.url, "GET", CAP, undefined, { nonce: "n-seq-1" });
  expect(again.status).toBe(401);
  expect(again.json.error.code).toBe("NONCE_REUSED");
  const rs = await Promise.all(Array.from({ length: 50 }, () => peer.call(tg.url, "GET", CAP, undefined, { nonce: "n-conc-1" })));
  expect(rs.filter((r) => r.status === 200).length).toBe(1);
  expect(rs.filter((r) => r.json?.error?.code === "NONCE_REUSED").length).toBe(49);
});

test("a forged request does not burn the sender's nonce", async () => {
  const forged = await peer.call(tg.url, "GET", CAP, undefined, { nonce: "n-forge", signature: "11".repeat(65) });
  expect(forged.status).toBe(401);
  expect(forged.json.error.code).toBe("INVALID_SIGNATURE");
  expect((await peer.call(tg.url, "GET", CAP, undefined, { nonce: "n-forge" })).status).toBe(200);
});

test("body changed by one byte after signing, or re-serialised, fails; query tampering fails", async () => {
  const path = "/opencharge/orders/create/" + "a".repeat(32);
  const raw = JSON.stringify({ order: { id: "x" }, signature: "00", urls: {} });
  const sign = peer.signedRequestHeaders("POST", path, raw);
  const send = (body: string, p = path) => fetch(tg.url + p, { method: "POST", headers: sign, body });
  const ok = await send(raw);
  expect(ok.status).not.toBe(401); // authenticated; the route then rejects the order body
  const flipped = raw.replace('"x"', '"y"');
  const sign2 = peer.signedRequestHeaders("POST", path, raw);
  const r1 = await fetch(tg.url + path, { method: "POST", headers: sign2, body: flipped });
  expect(r1.status).toBe(401);
  expect((await r1.json()).error.code).toBe("INVALID_SIGNATURE");
  const sign3 = peer.signedRequestHeaders("POST", path, raw);
  const spaced = JSON.stringify(JSON.parse(raw), null, 1);
  expect((await fetch(tg.url + path, { method: "POST", headers: sign3, body: spaced })).status).toBe(401);
  const q = peer.signedRequestHeaders("GET", CAP + "?a=1", "");
  expect((await fetch(tg.url + CAP + "?a=2", { headers: q })).status).toBe(401);
  const bare = peer.signedRequestHeaders("GET", CAP + "?", "");
  expect((await fetch(tg.url + CAP + "?", { headers: bare })).status).toBe(200);
});

test("unknown OCID → 401 UNKNOWN_OCID; nothing written", async () => {
  const stranger = TestPeer.offline({ ocid: 777 });
  const before = (await dbDigestOf(tg));
  const r = await stranger.call(tg.url, "GET", CAP);
  expect(r.status).toBe(401);
  expect(r.json.error.code).toBe("UNKNOWN_OCID");
  expect((await dbDigestOf(tg))).toBe(before);
});

test("metadata down → 502, then the cache serves stale copies for up to an hour", async () => {
  const p = await TestPeer.start({ ocid: 610 });
  await tg.gw.directory.add(610, p.endpoint);
  p.setMetadataDown(true);
  const down = await p.call(tg.url, "GET", CAP);
  expect(down.status).toBe(502);
  expect(down.json.error.code).toBe("METADATA_UNAVAILABLE");
  p.setMetadataDown(false);
  expect((await p.call(tg.url, "GET", CAP)).status).toBe(200);
  const fetches = p.metadataFetches;
  expect((await p.call(tg.url, "GET", CAP)).status).toBe(200);
  expect(p.metadataFetches).toBe(fetches); // fresh for 300 s: no refetch
  p.setMetadataDown(true);
  offset.s = 1000;
  expect((await p.call(tg.url, "GET", CAP, undefined, { timestamp: now() })).status).toBe(200); // stale-if-error
  expect(p.metadataFetches).toBeGreaterThan(fetches);
  offset.s = 3700;
  expect((await p.call(tg.url, "GET", CAP, undefined, { timestamp: now() })).status).toBe(502);
  await p.stop();
});

test("100 concurrent requests from a new OCID cause one metadata fetch", async () => {
  const p = await TestPeer.start({ ocid: 611 });
  await tg.gw.directory.add(611, p.endpoint);
  const rs = await Promise.all(Array.from({ length: 100 }, () => p.call(tg.url, "GET", CAP)));
  expect(rs.every((r) => r.status === 200)).toBe(true);
  expect(p.metadataFetches).toBe(1);
  await p.stop();
});

test("metadata forms: flat and nested accepted; a bad config signature is rejected", async () => {
  for (const [ocid, form, status] of [
    [620, "flat", 200],
    [621, "nested-unsigned", 200],
    [622, "nested-replacer-signed", 200],
    [623, "nested-bad-signature", 502],
  ] as const) {
    const p = await TestPeer.start({ ocid, metadataForm: form });
    await tg.gw.directory.add(ocid, p.endpoint);
    const r = await p.call(tg.url, "GET", CAP);
    expect(r.status).toBe(status);
    await p.stop();
  }
});

test("key rotation: a signature failing against a cached key older than 60 s triggers one refetch", async () => {
  const p = await TestPeer.start({ ocid: 630 });
  await tg.gw.directory.add(630, p.endpoint);
  expect((await p.call(tg.url, "GET", CAP)).status).toBe(200);
  p.rotateKey();
  offset.s = 61;
  expect((await p.call(tg.url, "GET", CAP, undefined, { timestamp: now() })).status).toBe(200);
  await p.stop();
});

test("404 for unknown protocol routes, with no authentication attempted", async () => {
  const r = await fetch(tg.url + "/opencharge/nope", { method: "POST", body: "{}" });
  expect(r.status).toBe(404);
  expect((await r.json()).error.code).toBe("NOT_FOUND");
});

test("bodies over 64 KiB → 413 PAYLOAD_TOO_LARGE; malformed JSON → 400 INVALID_REQUEST", async () => {
  const big = "x".repeat(65 * 1024);
  const r = await fetch(tg.url + "/opencharge/orders/create/" + "a".repeat(32), { method: "POST", body: big });
  expect(r.status).toBe(413);
  expect((await r.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 70; i++) c.enqueue(new TextEncoder().encode("y".repeat(1024)));
      c.close();
    },
  });
  const r2 = await fetch(tg.url + "/opencharge/orders/create/" + "a".repeat(32), { method: "POST", body: chunked, duplex: "half" } as any);
  expect(r2.status).toBe(413);
  const app = await fetch(tg.url + "/app/pay", { method: "POST", body: big });
  expect(app.status).toBe(413);
  const malformed = await peer.call(tg.url, "POST", "/opencharge/orders/create/" + "a".repeat(32), { raw: "{oops" });
  expect(malformed.status).toBe(400);
  expect(malformed.json.error.code).toBe("INVALID_REQUEST");
});

test("a directory entry removed by another process (the CLI) stops authenticating at once", async () => {
  const p = await TestPeer.start({ ocid: 650 });
  await tg.gw.directory.add(650, p.endpoint);
  expect((await p.call(tg.url, "GET", CAP)).status).toBe(200);
  // `oc directory remove 650` opens its own gateway (and Directory) on the same database file.
  const { runCli } = await import("../../src/cli/run");
  expect(await runCli(["directory", "remove", "650", ...cliWhere(tg)], { log: () => {}, err: () => {} })).toBe(0);
  const r = await p.call(tg.url, "GET", CAP);
  expect(r.status).toBe(401);
  expect(r.json.error.code).toBe("UNKNOWN_OCID");
  await p.stop();
});
