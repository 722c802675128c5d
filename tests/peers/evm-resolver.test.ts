import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeAbiString, encodeTokenUriCall, resolveTokenUri } from "../../src/peers/evm-resolver";

const REGISTRY = "0x1234567890AbcdEF1234567890aBcdef12345678";

// Independent ABI encoder for the test server: offset word, length word, bytes right-padded to 32.
const word = (n: number | bigint) => BigInt(n).toString(16).padStart(64, "0");
function abiString(s: string | Uint8Array): string {
  const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
  const hex = Buffer.from(bytes).toString("hex");
  const padded = hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
  return "0x" + word(32) + word(bytes.length) + padded;
}

const FOUND_URL = "https://peer.example/opencharge/metadata.json";
const UNICODE_URL = "https://wället.example/ocid/ñ";

// OCID → behaviour
const ANSWERS: Record<number, (id: unknown) => Response | Promise<Response>> = {
  1: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString(FOUND_URL) }),
  2: (id) => Response.json({ jsonrpc: "2.0", id, error: { code: 3, message: "ERC721: invalid token ID", data: "0x08c379a0" } }),
  3: (id) => Response.json({ jsonrpc: "2.0", id, error: { code: -32000, message: "Execution REVERTED" } }),
  4: (id) => Response.json({ jsonrpc: "2.0", id, result: "0x" }),
  5: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString("") }),
  6: () => new Response("internal error", { status: 500 }),
  7: (id) => Response.json({ jsonrpc: "2.0", id, result: "0x" + word(32) + word(100) + "68747470" }), // length past the end
  8: async (id) => {
    await Bun.sleep(1000);
    return Response.json({ jsonrpc: "2.0", id, result: abiString(FOUND_URL) });
  },
  9: (id) => Response.json({ jsonrpc: "2.0", id, error: { code: -32601, message: "the method eth_call does not exist" } }),
  10: () => new Response("{not json", { headers: { "content-type": "application/json" } }),
  11: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString("x".repeat(70 * 1024)) }), // > 64 KiB body
  12: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString(UNICODE_URL) }),
  13: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString(new Uint8Array([0x68, 0xff, 0xfe])) }), // invalid UTF-8
  14: (id) => Response.json({ jsonrpc: "2.0", id }),
  15: () => new Response("null"),
  16: () => new Response(null, { status: 302, headers: { location: "http://127.0.0.1:1/" } }),
  17: (id) => {
    // headers arrive at once, the body stalls: the deadline must still apply
    const enc = new TextEncoder();
    const stream = new ReadableStream({
      async start(c) {
        c.enqueue(enc.encode(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},`));
        await Bun.sleep(1000);
        c.enqueue(enc.encode(`"result":"0x"}`));
        c.close();
      },
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  },
  18: (id) => Response.json({ jsonrpc: "2.0", id, error: "boom" }),
  19: (id) => Response.json({ jsonrpc: "2.0", id, result: "0x" + word(0) + word(0) }), // offset into the head
  9007199254740991: (id) => Response.json({ jsonrpc: "2.0", id, result: abiString("https://max.example/") }),
};

type Seen = { method: string; contentType: string | null; body: string };
const seen = new Map<number, Seen>();
let server: ReturnType<typeof Bun.serve>;
let rpcUrl: string;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      let msg: { id?: unknown; params?: [{ data?: string }] };
      try {
        msg = JSON.parse(body);
      } catch {
        return new Response("bad request", { status: 400 });
      }
      const data = msg.params?.[0]?.data ?? "";
      const ocid = Number(BigInt("0x" + data.slice(10)));
      seen.set(ocid, { method: req.method, contentType: req.headers.get("content-type"), body });
      const answer = ANSWERS[ocid];
      return answer ? answer(msg.id) : Response.json({ jsonrpc: "2.0", id: msg.id, error: { code: 3, message: "execution reverted" } });
    },
  });
  rpcUrl = `http://127.0.0.1:${server.port}/rpc`;
});
afterAll(() => server.stop(true));

const call = (ocid: number, timeoutMs?: number) => resolveTokenUri({ rpcUrl, registryAddress: REGISTRY, ocid, timeoutMs });

describe("encodeTokenUriCall", () => {
  test("selector + 64 hex digits, big-endian", () => {
    expect(encodeTokenUriCall(1)).toBe("0xc87b56dd" + "0".repeat(63) + "1");
    expect(encodeTokenUriCall(200)).toBe("0xc87b56dd" + "0".repeat(62) + "c8");
    expect(encodeTokenUriCall(0)).toBe("0xc87b56dd" + "0".repeat(64));
    expect(encodeTokenUriCall(2 ** 53 - 1)).toBe("0xc87b56dd" + "0".repeat(50) + "1fffffffffffff");
    expect(encodeTokenUriCall(2 ** 53 - 1)).toHaveLength(10 + 64);
  });
  test("rejects non-integers, negatives and unsafe integers", () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) expect(() => encodeTokenUriCall(bad)).toThrow(RangeError);
  });
});

describe("decodeAbiString", () => {
  test("round trips", () => {
    expect(decodeAbiString(abiString(FOUND_URL))).toBe(FOUND_URL);
    expect(decodeAbiString(abiString(UNICODE_URL))).toBe(UNICODE_URL);
    expect(decodeAbiString(abiString(""))).toBe("");
    expect(decodeAbiString(abiString("a".repeat(32)))).toBe("a".repeat(32)); // exact word, no padding
    expect(decodeAbiString(abiString("a".repeat(33)))).toBe("a".repeat(33));
    expect(decodeAbiString(abiString(FOUND_URL).toUpperCase().replace("0X", "0x"))).toBe(FOUND_URL); // upper-case hex
  });
  test("unpadded data whose bytes fit is accepted; a later offset is honoured", () => {
    expect(decodeAbiString("0x" + word(32) + word(2) + "6869")).toBe("hi");
    expect(decodeAbiString("0x" + word(64) + word(0) + word(2) + "6869" + "0".repeat(60))).toBe("hi");
  });
  const malformed: [string, string][] = [
    ["", "empty"],
    ["0x", "no words"],
    ["c87b", "no 0x"],
    ["0x" + word(32), "offset only"],
    ["0x" + word(32) + word(5) + "6869", "length past the end"],
    ["0x" + word(0) + word(0), "offset into the head"],
    ["0x" + word(33) + word(2) + "6869" + "00".repeat(31), "offset not a multiple of 32"],
    ["0x" + word(64) + word(2), "offset past the end"],
    ["0x" + "f".repeat(64) + word(2), "huge offset"],
    ["0x" + word(32) + "f".repeat(64) + "6869", "huge length"],
    ["0x" + word(32) + word(2) + "686", "odd hex length"],
    ["0x" + word(32) + word(2) + "zz69", "not hex"],
    ["0x" + word(32) + word(2) + "c328", "invalid UTF-8"],
    ["0x" + word(32) + word(3) + "eda080", "UTF-8 surrogate"],
    [" 0x" + word(32) + word(0), "leading space"],
  ];
  for (const [hex, why] of malformed) test(`malformed: ${why}`, () => expect(decodeAbiString(hex)).toBeNull());
});

describe("resolveTokenUri against a JSON-RPC server on 127.0.0.1", () => {
  test("found: decodes the tokenURI, and sends exactly the documented request", async () => {
    expect(await call(1)).toEqual({ kind: "found", value: FOUND_URL });
    const s = seen.get(1)!;
    expect(s.method).toBe("POST");
    expect(s.contentType).toBe("application/json");
    expect(s.body).toBe(
      '{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x1234567890AbcdEF1234567890aBcdef12345678","data":"0xc87b56dd0000000000000000000000000000000000000000000000000000000000000001"},"latest"]}',
    );
  });

  test("found: non-ASCII UTF-8 value and the largest safe OCID", async () => {
    expect(await call(12)).toEqual({ kind: "found", value: UNICODE_URL });
    expect(await call(9007199254740991)).toEqual({ kind: "found", value: "https://max.example/" });
    expect(JSON.parse(seen.get(9007199254740991)!.body).params[0].data).toBe("0xc87b56dd" + "0".repeat(50) + "1fffffffffffff");
  });

  test("unknown: revert code 3, 'revert' in the message, result 0x, empty string", async () => {
    expect(await call(2)).toEqual({ kind: "unknown" });
    expect(await call(3)).toEqual({ kind: "unknown" });
    expect(await call(4)).toEqual({ kind: "unknown" });
    expect(await call(5)).toEqual({ kind: "unknown" });
    expect(await call(424242)).toEqual({ kind: "unknown" }); // server default: "execution reverted"
  });

  test("unavailable: HTTP 500, malformed ABI, other RPC errors, bad JSON, no result, oversize, redirect", async () => {
    const cases: [number, string][] = [
      [6, "rpc_http_500"],
      [7, "abi_malformed"],
      [9, "rpc_error"],
      [10, "rpc_not_json"],
      [11, "rpc_too_large"],
      [13, "abi_malformed"],
      [14, "rpc_no_result"],
      [15, "rpc_not_json"],
      [16, "rpc_http_302"],
      [18, "rpc_error"],
      [19, "abi_malformed"],
    ];
    for (const [ocid, reason] of cases) expect({ ocid, r: await call(ocid) }).toEqual({ ocid, r: { kind: "unavailable", reason } });
  });

  test("unavailable: slow reply and stalled body time out (timeoutMs 200)", async () => {
    const t0 = performance.now();
    expect(await call(8, 200)).toEqual({ kind: "unavailable", reason: "rpc_timeout" });
    expect(await call(17, 200)).toEqual({ kind: "unavailable", reason: "rpc_timeout" });
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  test("unavailable: transport failure (nothing listening)", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = dead.port;
    dead.stop(true);
    const r = await resolveTokenUri({ rpcUrl: `http://127.0.0.1:${port}/`, registryAddress: REGISTRY, ocid: 1, timeoutMs: 2000 });
    expect(r).toEqual({ kind: "unavailable", reason: "rpc_network" });
  });

  test("fetchImpl is used when given; an invalid OCID never reaches the network", async () => {
    let calls = 0;
    const fetchImpl = (async () => {
      calls++;
      return Response.json({ jsonrpc: "2.0", id: 1, result: abiString("https://injected.example/") });
    }) as unknown as typeof fetch;
    expect(await resolveTokenUri({ rpcUrl: "http://127.0.0.1:9/", registryAddress: REGISTRY, ocid: 7, fetchImpl })).toEqual({
      kind: "found",
      value: "https://injected.example/",
    });
    expect(await resolveTokenUri({ rpcUrl: "http://127.0.0.1:9/", registryAddress: REGISTRY, ocid: -1, fetchImpl })).toEqual({
      kind: "unavailable",
      reason: "invalid_ocid",
    });
    expect(calls).toBe(1);
  });
});

// Issue 12: one JSON-RPC peer per contract ABI, answering by selector as a real node would (a function the
// contract lacks reverts). ERC-721 has only tokenURI; the docs' RouterRegistry has only resolve(uint256).
describe("registry ABIs: tokenURI(uint256) and the docs' resolve(uint256)", () => {
  const TOKEN_URI = "0xc87b56dd";
  const RESOLVE = "0x4f896d4f";
  type Abi = Record<string, (ocid: number) => string | null>; // selector → ABI string result, null = revert
  const revert = { code: 3, message: "execution reverted" };
  const calls: string[] = [];
  function rpcPeer(abi: Abi) {
    return Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const msg = JSON.parse(await req.text()) as { id: unknown; params: [{ data: string }] };
        const data = msg.params[0].data;
        const selector = data.slice(0, 10);
        calls.push(selector);
        const fn = abi[selector];
        const result = fn ? fn(Number(BigInt("0x" + data.slice(10)))) : null;
        return Response.json(result === null ? { jsonrpc: "2.0", id: msg.id, error: revert } : { jsonrpc: "2.0", id: msg.id, result });
      },
    });
  }
  const peers = {
    erc721: rpcPeer({ [TOKEN_URI]: (o) => (o === 1 ? abiString("https://erc721.example/") : null) }),
    routerRegistry: rpcPeer({ [RESOLVE]: (o) => (o === 1 ? abiString("https://router.example/") : null) }),
    // Both functions; tokenURI answers an empty string for OCID 2, which resolve knows.
    both: rpcPeer({
      [TOKEN_URI]: (o) => (o === 1 ? abiString("https://both-token.example/") : abiString("")),
      [RESOLVE]: (o) => (o === 2 ? abiString("https://both-resolve.example/") : "0x"),
    }),
  };
  afterAll(() => Object.values(peers).forEach((p) => p.stop(true)));
  const ask = (p: ReturnType<typeof Bun.serve>, ocid: number) => {
    calls.length = 0;
    return resolveTokenUri({ rpcUrl: `http://127.0.0.1:${p.port}/`, registryAddress: REGISTRY, ocid });
  };

  test("ERC-721: tokenURI answers, resolve is never called", async () => {
    expect(await ask(peers.erc721, 1)).toEqual({ kind: "found", value: "https://erc721.example/" });
    expect(calls).toEqual([TOKEN_URI]);
  });
  test("RouterRegistry: tokenURI reverts, resolve(uint256) answers", async () => {
    expect(await ask(peers.routerRegistry, 1)).toEqual({ kind: "found", value: "https://router.example/" });
    expect(calls).toEqual([TOKEN_URI, RESOLVE]);
  });
  test("tokenURI empty → resolve; both unknown → unknown; tokenURI wins when it answers", async () => {
    expect(await ask(peers.both, 2)).toEqual({ kind: "found", value: "https://both-resolve.example/" });
    expect(calls).toEqual([TOKEN_URI, RESOLVE]);
    expect(await ask(peers.both, 1)).toEqual({ kind: "found", value: "https://both-token.example/" });
    expect(await ask(peers.both, 3)).toEqual({ kind: "unknown" });
    expect(await ask(peers.erc721, 9)).toEqual({ kind: "unknown" });
    expect(await ask(peers.routerRegistry, 9)).toEqual({ kind: "unknown" });
    expect(calls).toEqual([TOKEN_URI, RESOLVE]);
  });
  test("the resolve calldata is selector 0x4f896d4f + the OCID word", () => {
    expect(encodeTokenUriCall(200, RESOLVE)).toBe("0x4f896d4f" + "0".repeat(62) + "c8");
  });
});
