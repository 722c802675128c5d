// Issue 4: the signed outbound client and the directory's EVM source, against real loopback servers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway } from "../helpers/gateway";
import { TestPeer } from "../peers/kit";
import { PeerClient } from "../../src/peers/client";
import { parseAllowlist } from "../../src/peers/ssrf";

let tg: PortTestGateway;
let peer: TestPeer;
let rpc: ReturnType<typeof Bun.serve>;
const registry: Record<number, string> = {};

function abiString(s: string): string {
  const bytes = Buffer.from(s, "utf8");
  const len = bytes.length.toString(16).padStart(64, "0");
  const data = bytes.toString("hex").padEnd(Math.ceil(bytes.length / 32) * 64, "0");
  return "0x" + "20".padStart(64, "0") + len + data;
}

beforeAll(async () => {
  rpc = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as { params: [{ data: string }] };
      const ocid = Number(BigInt("0x" + body.params[0].data.slice(10)));
      if (!registry[ocid]) return Response.json({ jsonrpc: "2.0", id: 1, error: { code: 3, message: "execution reverted" } });
      return Response.json({ jsonrpc: "2.0", id: 1, result: abiString(registry[ocid]!) });
    },
  });
  tg = await startPortTestGateway({ directory: { rpcUrl: `http://127.0.0.1:${rpc.port}`, registryAddress: "0x00000000000000000000000000000000000000aa" } as never });
  peer = await TestPeer.start({ ocid: 640 });
  peer.trustGateway(200, tg.gw.key.publicKeyHex);
  registry[640] = peer.endpoint; // an API endpoint: /metadata.json is appended (§2.2)
});
afterAll(async () => {
  await peer.stop();
  await tg.close();
  rpc.stop(true);
});

test("an OCID found only through the EVM registry authenticates; one the registry reverts on is UNKNOWN_OCID", async () => {
  expect((await peer.call(tg.url, "GET", "/opencharge/capabilities")).status).toBe(200);
  const stranger = TestPeer.offline({ ocid: 641 });
  const r = await stranger.call(tg.url, "GET", "/opencharge/capabilities");
  expect(r.json.error.code).toBe("UNKNOWN_OCID");
});

test("the client signs the full wire path, sends the body bytes it signed, an Idempotency-Key, and checks response signatures", async () => {
  peer.route("POST", "/echo", (req) => ({ body: { ok: req.authentic, key: req.headers.get("idempotency-key") } }));
  const r = await tg.gw.peers.call(640, "POST", "/echo", { b: 1, a: [2] }, { idempotencyKey: "job:step", timeoutMs: 2000 });
  expect(r.kind).toBe("response");
  if (r.kind !== "response") return;
  expect(r.json).toEqual({ ok: true, key: "job:step" });
  expect(r.signatureValid).toBe(true);
  const got = peer.received.at(-1)!;
  expect(new TextDecoder().decode(got.rawBody)).toBe('{"b":1,"a":[2]}');
  expect(got.path).toBe("/opencharge/echo");
  // A response whose signature does not verify is untrusted.
  peer.route("POST", "/forged", () => ({ body: { x: 1 }, headers: { "X-OC-Signature": "11".repeat(65) } }));
  const f = await tg.gw.peers.call(640, "POST", "/forged", {}, { timeoutMs: 2000 });
  expect(f.kind === "response" && f.signatureValid).toBe(false);
  // Unsigned responses are allowed (headers missing ⇒ null).
  peer.route("GET", "/plain", () => ({ body: { x: 1 }, sign: false }));
  const p = await tg.gw.peers.call(640, "GET", "/plain", undefined, { timeoutMs: 2000 });
  expect(p.kind === "response" && p.signatureValid).toBeNull();
});

test("refusals: a URL outside the peer's endpoint, loopback when not allow-listed, an unknown OCID", async () => {
  expect(await tg.gw.peers.call(640, "GET", "/../admin", undefined, { timeoutMs: 1000 })).toEqual({ kind: "refused", reason: "outside_endpoint" });
  const strict = new PeerClient({ ocid: 200, secret: tg.gw.key.secret, clock: tg.gw.clock, directory: tg.gw.directory, allowlist: parseAllowlist([]), window: 300 });
  const r = await strict.call(640, "GET", "/plain", undefined, { timeoutMs: 1000 });
  expect(r).toEqual({ kind: "refused", reason: "outbound_forbidden_address" });
  expect(await tg.gw.peers.call(4040, "GET", "/x", undefined, { timeoutMs: 1000 })).toEqual({ kind: "refused", reason: "unknown_ocid" });
});

test("a slow peer is a timeout failure (ambiguous), an oversize reply is refused as too large", async () => {
  peer.route("GET", "/slow", () => ({ body: {}, delayMs: 800 }));
  const slow = await tg.gw.peers.call(640, "GET", "/slow", undefined, { timeoutMs: 200 });
  expect(slow.kind === "failure" && slow.reason).toBe("timeout");
  peer.route("GET", "/huge", () => ({ rawBody: JSON.stringify({ pad: "x".repeat(70 * 1024) }) }));
  const huge = await tg.gw.peers.call(640, "GET", "/huge", undefined, { timeoutMs: 2000 });
  expect(huge.kind === "failure" && huge.reason).toBe("too_large");
});
