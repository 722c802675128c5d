// A verification thread: the same verifyDigest (with its own per-key point cache), off the event loop.
import { verifyDigest } from "./protocol/signatures";

declare const self: Worker;

type Check = { id: number; digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array };

self.onmessage = (e: MessageEvent<Check>) => {
  const { id, digests, r, s, pub } = e.data;
  self.postMessage({ id, ok: digests.some((d) => verifyDigest(d, { r, s }, pub)) });
};
