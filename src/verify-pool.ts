// Signature verification (and, optionally, response signing) either inline or in a small pool of Bun workers, so
// the second core does the ECDSA while the event loop serves HTTP and SQLite. Same code either way (verifyDigest,
// signDigest); callers only see a promise.
import { signDigest, verifyDigest } from "./protocol/signatures";

export type SignatureCheck = { digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array };

export type Verifier = {
  /** True when the signature verifies over any of the digests (request path candidates, canonical forms). */
  verifyAny(check: SignatureCheck): Promise<boolean>;
  /** 130-hex r‖s‖v over a 32-byte digest; on a worker only when the pool was made with `sign: true`. */
  signDigest(digest: Uint8Array, sk: Uint8Array): Promise<string>;
  /** True when signDigest runs off the event loop (else callers sign inline and skip the promise). */
  readonly signsOffThread: boolean;
  /** Checks waiting for a worker (GET /metrics). */
  queueDepth(): number;
  close(): void;
};

export const inlineVerifier: Verifier = {
  verifyAny: async ({ digests, r, s, pub }) => digests.some((d) => verifyDigest(d, { r, s }, pub)),
  signDigest: async (digest, sk) => signDigest(digest, sk),
  signsOffThread: false,
  queueDepth: () => 0,
  close() {},
};

/** Jobs queued per worker above which a response is signed on the event loop instead (signOnWorkers). */
export const SIGN_BACKLOG = 3;

type Job =
  | { kind: "verify"; resolve: (ok: boolean) => void; check: SignatureCheck }
  | { kind: "sign"; resolve: (sig: string) => void; digest: Uint8Array; sk: Uint8Array };

/** Runs a job on this thread (a broken or closed pool answers what it held this way). */
function inline(job: Job): void {
  if (job.kind === "verify") void inlineVerifier.verifyAny(job.check).then(job.resolve);
  else job.resolve(signDigest(job.digest, job.sk));
}

export function workerVerifier(
  size: number,
  onError: (e: unknown) => void,
  script: URL | string = new URL("./verify-worker.ts", import.meta.url),
  opts: { sign?: boolean } = {},
): Verifier {
  const workers = Array.from({ length: size }, () => new Worker(script));
  const pending = new Map<number, Job>();
  let next = 0;
  let seq = 0;
  let broken = false;
  for (const w of workers) {
    w.onmessage = (e: MessageEvent<{ id: number; ok?: boolean; sig?: string }>) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (p?.kind === "verify") p.resolve(e.data.ok === true);
      else if (p?.kind === "sign") p.resolve(e.data.sig!);
    };
    // A broken worker must not strand requests: answer what it held inline, and verify inline from then on.
    w.onerror = (e) => {
      onError(e);
      broken = true;
      for (const [id, p] of pending) {
        pending.delete(id);
        inline(p);
      }
    };
  }
  return {
    queueDepth: () => pending.size,
    verifyAny(check) {
      if (broken) return inlineVerifier.verifyAny(check);
      return new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, { kind: "verify", resolve, check });
        workers[next++ % workers.length]!.postMessage({ id, ...check });
      });
    },
    signsOffThread: opts.sign === true,
    signDigest(digest, sk) {
      // Self-balancing: while the workers have a backlog (they are the bottleneck), the event loop signs itself.
      if (broken || !opts.sign || pending.size >= SIGN_BACKLOG * workers.length)
        return inlineVerifier.signDigest(digest, sk);
      return new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, { kind: "sign", resolve, digest, sk });
        workers[next++ % workers.length]!.postMessage({ id, sign: digest, sk });
      });
    },
    close() {
      for (const w of workers) w.terminate();
      for (const [id, p] of pending) {
        pending.delete(id);
        inline(p);
      }
    },
  };
}
