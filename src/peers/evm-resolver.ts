// §2.2 optional EVM resolver: `tokenURI(uint256)` via JSON-RPC eth_call. Encoded by hand: one 4-byte selector and
// one uint256 argument do not justify an ABI library. The RPC URL is operator-configured, hence trusted.
export type EvmLookup = { kind: "found"; value: string } | { kind: "unknown" } | { kind: "unavailable"; reason: string };

const SELECTOR = "0xc87b56dd";
const MAX_BYTES = 64 * 1024;

export function encodeTokenUriCall(ocid: number): string {
  return SELECTOR + BigInt(ocid).toString(16).padStart(64, "0");
}

/** ABI `string` return value: 32-byte offset, 32-byte length, UTF-8 bytes. Null when malformed. */
export function decodeAbiString(hex: string): string | null {
  if (!/^0x([0-9a-fA-F]{2})*$/.test(hex)) return null;
  const body = hex.slice(2);
  const word = (i: number) => (body.length >= (i + 1) * 64 ? BigInt("0x" + body.slice(i * 64, (i + 1) * 64)) : null);
  const offset = word(0);
  if (offset === null || offset % 32n !== 0n || offset > BigInt(body.length / 2)) return null;
  const lenAt = Number(offset) / 32;
  const len = word(lenAt);
  if (len === null) return null;
  const start = (lenAt + 1) * 64;
  if (BigInt(start) + len * 2n > BigInt(body.length)) return null;
  const bytes = new Uint8Array(Number(len));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(body.slice(start + i * 2, start + i * 2 + 2), 16);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

export async function resolveTokenUri(opts: {
  rpcUrl: string;
  registryAddress: string;
  ocid: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}): Promise<EvmLookup> {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "eth_call",
    params: [{ to: opts.registryAddress, data: encodeTokenUriCall(opts.ocid) }, "latest"],
  });
  let text: string;
  try {
    const res = await (opts.fetchImpl ?? fetch)(opts.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    if (res.status !== 200) return { kind: "unavailable", reason: `rpc_http_${res.status}` };
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > MAX_BYTES) return { kind: "unavailable", reason: "rpc_too_large" };
    text = new TextDecoder().decode(buf);
  } catch (e) {
    return { kind: "unavailable", reason: (e as Error)?.name === "TimeoutError" ? "rpc_timeout" : "rpc_network" };
  }
  let msg: { result?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: "unavailable", reason: "rpc_not_json" };
  }
  if (msg.error) {
    const revert = msg.error.code === 3 || /revert/i.test(String(msg.error.message ?? ""));
    return revert ? { kind: "unknown" } : { kind: "unavailable", reason: "rpc_error" };
  }
  if (msg.result === "0x") return { kind: "unknown" };
  if (typeof msg.result !== "string") return { kind: "unavailable", reason: "rpc_no_result" };
  const value = decodeAbiString(msg.result);
  if (value === null) return { kind: "unavailable", reason: "abi_malformed" };
  return value === "" ? { kind: "unknown" } : { kind: "found", value };
}
