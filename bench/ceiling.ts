// The crypto ceiling: how many submits per second one core could accept if it did nothing but the two signature
// checks every submit needs (§4.3 request signature, §9.4 step 7 order signature), with the gateway's own code:
// src/protocol/signatures.ts verifyString over a 65-byte point from src/protocol/keys.ts parsePublicKey.
import { verifyString, signString } from "../src/protocol/signatures";
import { parsePublicKey } from "../src/protocol/keys";
import { canonDeep, requestCanonical, responseCanonical } from "../src/protocol/canonical";
import { sha256Hex } from "../src/protocol/hash";
import type { SignedSubmit } from "./peers";
import { readFileSync } from "node:fs";

export type Ceiling = {
  verify_request_per_s: number;
  verify_order_per_s: number;
  /** per-verify rate over the pair (harmonic mean of the two) */
  verify_per_s: number;
  ceiling_orders_per_s: number;
  /** not part of the ceiling: the gateway also signs every response (§4.5) */
  sign_per_s: number;
  ceiling_with_response_signing: number;
  message_bytes: { request: number; order: number; response: number };
  /**
   * Issue 20 (a): the CPU one submit's unavoidable cryptography costs on this machine, from thread CPU time (not wall
   * time, so other processes do not inflate it): verify the request string + verify the order string + sign the
   * submit's real response string, with the gateway's own code. Milliseconds.
   */
  crypto_cpu_ms_per_order: number;
  crypto_cpu_ms: { verify_request: number; verify_order: number; sign_response: number };
};

/**
 * CPU milliseconds of the calling thread only: /proc/thread-self/schedstat's first field (ns on a CPU). The process
 * total (process.cpuUsage) also counts JSC's JIT compiler and GC helper threads, which are still busy tiering up
 * noble's code while it is measured (~12 % more here); falls back to it where /proc is not there.
 */
const cpuMs = (() => {
  try {
    const read = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6;
    if (Number.isFinite(read())) return read;
  } catch {
    // not Linux
  }
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
})();

/** Calls fn for ~ms milliseconds: calls per second of wall time, and CPU ms per call of this thread. */
function rate(fn: () => void, ms: number): { perS: number; cpuMs: number } {
  let n = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return { perS: (n * 1000) / (t - t0), cpuMs: (cpuMs() - c0) / n };
}

const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** The functions measured in turn, `rounds` slices of `ms` each, median per function: robust to bursts of other load. */
function medianRates(fns: (() => void)[], rounds: number, ms: number): { perS: number; cpuMs: number }[] {
  // Warm-up: JIT tiers (the first ~100 ms of calls run ~1.5× slower), noble's base-point table, the key's table.
  for (const fn of fns) for (let i = 0; i < 600; i++) fn();
  const seen = fns.map(() => [] as { perS: number; cpuMs: number }[]);
  for (let r = 0; r < rounds; r++) fns.forEach((fn, i) => seen[i]!.push(rate(fn, ms)));
  return seen.map((v) => ({ perS: median(v.map((x) => x.perS)), cpuMs: median(v.map((x) => x.cpuMs)) }));
}

/**
 * `sample` is one pre-signed submit; `publicKeyHex` its merchant's published key (128 hex); `gateway` signs the
 * submit's real response (`{"urls":{"status":…}}`, §4.5) with the gateway's key.
 */
export function measureCeiling(
  sample: SignedSubmit,
  publicKeyHex: string,
  gateway: { ocid: number; secret: Uint8Array; endpoint: string },
  rounds = 7,
  ms = 200,
): Ceiling {
  const key = parsePublicKey(publicKeyHex);
  if (!key.ok) throw new Error("merchant key does not parse");
  const h = sample.headers;
  const reqString = requestCanonical({
    ocid: h["X-OC-ID"]!,
    timestamp: h["X-OC-Timestamp"]!,
    nonce: h["X-OC-Nonce"]!,
    method: "POST",
    path: sample.path,
    bodyHash: sha256Hex(sample.body),
  });
  const parsed = JSON.parse(sample.body) as { order: Record<string, unknown>; signature: string };
  const orderString = canonDeep(parsed.order);
  const reqSig = h["X-OC-Signature"]!;
  if (!verifyString(reqString, reqSig, key.point) || !verifyString(orderString, parsed.signature, key.point))
    throw new Error("ceiling: the sample's signatures do not verify with the gateway's code");

  // What the submit route answers, byte for byte (src/flows/submit-order.ts), hashed and signed as
  // src/http/responses.ts does; a new timestamp per call, as every response has its own.
  const responseBody = JSON.stringify({ urls: { status: `${gateway.endpoint}/orders/${encodeURIComponent(parsed.order.id as string)}/status` } });
  let ts = Math.floor(Date.now() / 1000);
  const responseString = () => responseCanonical(gateway.ocid, ts++, 200, sha256Hex(responseBody));
  const [req, ord, sig] = medianRates(
    [
      () => verifyString(reqString, reqSig, key.point),
      () => verifyString(orderString, parsed.signature, key.point),
      () => signString(responseString(), gateway.secret),
    ],
    rounds,
    ms,
  ) as [{ perS: number; cpuMs: number }, { perS: number; cpuMs: number }, { perS: number; cpuMs: number }];
  const [vReq, vOrder, sign] = [req.perS, ord.perS, sig.perS];
  const perOrderSeconds = 1 / vReq + 1 / vOrder;
  return {
    verify_request_per_s: vReq,
    verify_order_per_s: vOrder,
    verify_per_s: 2 / perOrderSeconds,
    ceiling_orders_per_s: 1 / perOrderSeconds,
    sign_per_s: sign,
    ceiling_with_response_signing: 1 / (perOrderSeconds + 1 / sign),
    message_bytes: { request: Buffer.byteLength(reqString), order: Buffer.byteLength(orderString), response: Buffer.byteLength(responseString()) },
    crypto_cpu_ms_per_order: req.cpuMs + ord.cpuMs + sig.cpuMs,
    crypto_cpu_ms: { verify_request: req.cpuMs, verify_order: ord.cpuMs, sign_response: sig.cpuMs },
  };
}
