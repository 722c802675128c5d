// §2.2 optional EVM resolver: `tokenURI(uint256)` via JSON-RPC eth_call on the registry contract, then the docs'
// RouterRegistry `resolve(uint256)` when tokenURI reverts or is empty (issue 12: the registry as the docs publish it).
// The RPC URL is operator-configured, hence trusted: no §17 check here, but a timeout and a 64 KiB body cap.
import { fetchLimited } from "./fetch-limited";

export type EvmLookup =
  | { kind: "found"; value: string }
  | { kind: "unknown" }
  | { kind: "unavailable"; reason: string };

const SELECTOR = "0xc87b56dd"; // keccak256("tokenURI(uint256)")[0..4]
export const RESOLVE_SELECTOR = "0x4f896d4f"; // keccak256("resolve(uint256)")[0..4]
const MAX_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Calldata for tokenURI(ocid). Hand-encoded: one selector plus one uint256 (32-byte big-endian word) needs no ABI
 * library.
 */
export function encodeTokenUriCall(ocid: number, selector = SELECTOR): string {
  if (!Number.isSafeInteger(ocid) || ocid < 0)
    throw new RangeError(`OCID must be a non-negative safe integer, got ${ocid}`);
  return selector + ocid.toString(16).padStart(64, "0");
}

/**
 * Decodes an ABI-encoded `string` return value: "0x" + 32-byte offset + (at that offset) 32-byte length + UTF-8
 * bytes, zero-padded. Null when malformed: not hex, odd length, offset not a multiple of 32 or pointing into the
 * head / past the data, length running past the data, invalid UTF-8.
 */
export function decodeAbiString(hex: string): string | null {
  if (typeof hex !== "string" || !/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) return null;
  const body = hex.slice(2);
  const total = body.length / 2; // bytes
  const word = (byteOffset: number): bigint | null =>
    byteOffset + 32 <= total ? BigInt("0x" + body.slice(byteOffset * 2, (byteOffset + 32) * 2)) : null;
  const offset = word(0);
  if (offset === null || offset < 32n || offset % 32n !== 0n || offset + 32n > BigInt(total)) return null;
  const len = word(Number(offset));
  if (len === null) return null;
  const start = Number(offset) + 32;
  if (BigInt(start) + len > BigInt(total)) return null;
  const bytes = new Uint8Array(Number(len));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(body.slice((start + i) * 2, (start + i) * 2 + 2), 16);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

type EvmQuery = { rpcUrl: string; registryAddress: string; ocid: number; timeoutMs?: number; fetchImpl?: typeof fetch };

/** tokenURI first (every ERC-721 answers it); only its "unknown" earns the second call, whose answer then stands. */
export async function resolveTokenUri(opts: EvmQuery): Promise<EvmLookup> {
  const first = await ethCallString(opts, SELECTOR);
  return first.kind === "unknown" ? ethCallString(opts, RESOLVE_SELECTOR) : first;
}

async function ethCallString(opts: EvmQuery, selector: string): Promise<EvmLookup> {
  let data: string;
  try {
    data = encodeTokenUriCall(opts.ocid, selector);
  } catch {
    return { kind: "unavailable", reason: "invalid_ocid" };
  }
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "eth_call",
    params: [{ to: opts.registryAddress, data }, "latest"],
  });
  const res = await fetchLimited(
    opts.rpcUrl,
    { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body },
    { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBytes: MAX_BYTES, fetchImpl: opts.fetchImpl },
  );
  if (!res.ok)
    return {
      kind: "unavailable",
      reason: res.reason === "too_large" ? "rpc_too_large" : res.reason === "timeout" ? "rpc_timeout" : "rpc_network",
    };
  if (res.status !== 200) return { kind: "unavailable", reason: `rpc_http_${res.status}` };
  const raw = res.body;

  let msg: unknown;
  try {
    msg = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    return { kind: "unavailable", reason: "rpc_not_json" };
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg))
    return { kind: "unavailable", reason: "rpc_not_json" };
  const m = msg as { result?: unknown; error?: unknown };

  if (m.error !== undefined && m.error !== null) {
    const err = (typeof m.error === "object" ? m.error : {}) as { code?: unknown; message?: unknown };
    const revert = err.code === 3 || (typeof err.message === "string" && /revert/i.test(err.message));
    return revert ? { kind: "unknown" } : { kind: "unavailable", reason: "rpc_error" };
  }
  if (typeof m.result !== "string") return { kind: "unavailable", reason: "rpc_no_result" };
  if (m.result.toLowerCase() === "0x") return { kind: "unknown" };
  const value = decodeAbiString(m.result);
  if (value === null) return { kind: "unavailable", reason: "abi_malformed" };
  return value === "" ? { kind: "unknown" } : { kind: "found", value };
}
