// A crypto thread: the same verifyDigest (with its own per-key point cache) and the same response signing
// (signDigest), off the event loop.
import { signDigest, verifyDigest } from "./protocol/signatures";
import type { FollowUp } from "./verify-pool";

declare const self: Worker;

type Check = { id: number; digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array; then?: FollowUp };
type Sign = { id: number; sign: Uint8Array; sk: Uint8Array };

self.onmessage = (e: MessageEvent<Check | Sign>) => {
  const m = e.data;
  if ("sign" in m) return self.postMessage({ id: m.id, sig: signDigest(m.sign, m.sk) });
  const ok = m.digests.some((d) => verifyDigest(d, { r: m.r, s: m.s }, m.pub));
  if (!m.then) return self.postMessage({ id: m.id, ok });
  // The follow-ups only for a request whose own signature verified (see FollowUp), in order, stopping at a failure.
  const checks: boolean[] = [];
  for (const c of ok ? m.then.checks : []) {
    const passed = verifyDigest(c.digest, { r: c.r, s: c.s }, m.pub);
    checks.push(passed);
    if (!passed) break;
  }
  const all = ok && checks.length === m.then.checks.length && checks.every(Boolean);
  const sig = all && m.then.sign ? signDigest(m.then.sign.digest, m.then.sign.sk) : undefined;
  self.postMessage({ id: m.id, ok, checks, sig });
};
