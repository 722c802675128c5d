// The crypto ceiling: how many submits per second one core could accept if it did nothing but the two signature
// checks every submit needs (§4.3 request signature, §9.4 step 7 order signature), with the gateway's own code:
// src/protocol/signatures.ts verifyString over a 65-byte point from src/protocol/keys.ts parsePublicKey.
import { verifyString, signString } from "../src/protocol/signatures";
import { parsePublicKey } from "../src/protocol/keys";
import { canonDeep, requestCanonical } from "../src/protocol/canonical";
import { sha256Hex } from "../src/protocol/hash";
import type { SignedSubmit } from "./peers";

export type Ceiling = {
  verify_request_per_s: number;
  verify_order_per_s: number;
  /** per-verify rate over the pair (harmonic mean of the two) */
  verify_per_s: number;
  ceiling_orders_per_s: number;
  /** not part of the ceiling: the gateway also signs every response (§4.5) */
  sign_per_s: number;
  ceiling_with_response_signing: number;
  message_bytes: { request: number; order: number };
};

/** Calls fn for ~ms milliseconds and returns calls per second. */
function rate(fn: () => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

/** The functions measured in turn, `rounds` slices of `ms` each, median per function: robust to bursts of other load. */
function medianRates(fns: (() => void)[], rounds: number, ms: number): number[] {
  for (const fn of fns) for (let i = 0; i < 300; i++) fn(); // warm-up (JIT, noble's base-point table)
  const seen = fns.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) fns.forEach((fn, i) => seen[i]!.push(rate(fn, ms)));
  return seen.map((v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
}

/** `sample` is one pre-signed submit; `publicKeyHex` its merchant's published key (128 hex). */
export function measureCeiling(sample: SignedSubmit, publicKeyHex: string, rounds = 9, ms = 250): Ceiling {
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

  const sk = crypto.getRandomValues(new Uint8Array(32));
  sk[0] = 1; // < n
  let i = 0;
  const [vReq, vOrder, sign] = medianRates(
    [
      () => verifyString(reqString, reqSig, key.point),
      () => verifyString(orderString, parsed.signature, key.point),
      () => signString(`200\n1706313700\n200\n${i++}`, sk),
    ],
    rounds,
    ms,
  ) as [number, number, number];
  const perOrderSeconds = 1 / vReq + 1 / vOrder;
  return {
    verify_request_per_s: vReq,
    verify_order_per_s: vOrder,
    verify_per_s: 2 / perOrderSeconds,
    ceiling_orders_per_s: 1 / perOrderSeconds,
    sign_per_s: sign,
    ceiling_with_response_signing: 1 / (perOrderSeconds + 1 / sign),
    message_bytes: { request: Buffer.byteLength(reqString), order: Buffer.byteLength(orderString) },
  };
}
