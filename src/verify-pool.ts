// Signature verification either inline or in a small pool of Bun workers, so the second core verifies while the
// event loop serves HTTP and SQLite. Same code either way (verifyDigest); callers only see a promise.
import { verifyDigest } from "./protocol/signatures";

export type SignatureCheck = { digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array };

export type Verifier = {
  /** True when the signature verifies over any of the digests (request path candidates, canonical forms). */
  verifyAny(check: SignatureCheck): Promise<boolean>;
  /** Checks waiting for a worker (GET /metrics). */
  queueDepth(): number;
  close(): void;
};

export const inlineVerifier: Verifier = {
  verifyAny: async ({ digests, r, s, pub }) => digests.some((d) => verifyDigest(d, { r, s }, pub)),
  queueDepth: () => 0,
  close() {},
};

export function workerVerifier(size: number, onError: (e: unknown) => void, script: URL | string = new URL("./verify-worker.ts", import.meta.url)): Verifier {
  const workers = Array.from({ length: size }, () => new Worker(script));
  const pending = new Map<number, { resolve: (ok: boolean) => void; check: SignatureCheck }>();
  let next = 0;
  let seq = 0;
  let broken = false;
  for (const w of workers) {
    w.onmessage = (e: MessageEvent<{ id: number; ok: boolean }>) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      p?.resolve(e.data.ok);
    };
    // A broken worker must not strand requests: answer what it held inline, and verify inline from then on.
    w.onerror = (e) => {
      onError(e);
      broken = true;
      for (const [id, p] of pending) {
        pending.delete(id);
        void inlineVerifier.verifyAny(p.check).then(p.resolve);
      }
    };
  }
  return {
    queueDepth: () => pending.size,
    verifyAny(check) {
      if (broken) return inlineVerifier.verifyAny(check);
      return new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, { resolve, check });
        workers[next++ % workers.length]!.postMessage({ id, ...check });
      });
    },
    close() {
      for (const w of workers) w.terminate();
      for (const [id, p] of pending) {
        pending.delete(id);
        void inlineVerifier.verifyAny(p.check).then(p.resolve);
      }
    },
  };
}
