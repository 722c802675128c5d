// A crypto thread: the same verifyDigest (with its own per-key point cache) and the same response signing
// (signDigest), off the event loop.
import { signDigest, verifyDigest } from "./protocol/signatures";

declare const self: Worker;

type Check = { id: number; digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array };
type Sign = { id: number; sign: Uint8Array; sk: Uint8Array };

self.onmessage = (e: MessageEvent<Check | Sign>) => {
  const m = e.data;
  if ("sign" in m) self.postMessage({ id: m.id, sig: signDigest(m.sign, m.sk) });
  else self.postMessage({ id: m.id, ok: m.digests.some((d) => verifyDigest(d, { r: m.r, s: m.s }, m.pub)) });
};
