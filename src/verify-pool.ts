// Signature verification (and, optionally, response signing) either inline or in a small pool of Bun workers, so
// the second core does the ECDSA while the event loop serves HTTP and SQLite. Same code either way (verifyDigest,
// signDigest); callers only see a promise.
import { signDigest, verifyDigest } from "./protocol/signatures";

export type SignatureCheck = { digests: Uint8Array[]; r: bigint; s: bigint; pub: Uint8Array };

/**
 * What a request will need once its own signature verifies, done in the same worker round trip (issue 20: a submit
 * made three round trips, each a message and a thread wake-up both ways): more checks with the same key, run in
 * order until one fails, and a digest to sign when all passed. Nothing runs unless the request's signature verified,
 * so a forged request costs one verification, as before.
 */
export type FollowUp = {
  checks: { digest: Uint8Array; r: bigint; s: bigint }[];
  sign?: { digest: Uint8Array; sk: Uint8Array };
};
/** A follow-up check's digest and its outcome, as the route hands it on to the flow that would have checked it. */
export type Prechecked = { digest: Uint8Array; ok: boolean };
/** `checks[i]` is the i-th check's outcome, absent when it did not run; `sig` only when every check passed. */
export type FollowedUp = { ok: boolean; checks: boolean[]; sig?: string };

export type Verifier = {
  /** True when the signature verifies over any of the digests (request path candidates, canonical forms). */
  verifyAny(check: SignatureCheck): Promise<boolean>;
  /** verifyAny, then `then` on the same thread; inline it only verifies (no round trip to save). */
  verifyThen(check: SignatureCheck, then: FollowUp): Promise<FollowedUp>;
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
  verifyThen: async (check) => ({ ok: await inlineVerifier.verifyAny(check), checks: [] }),
  signDigest: async (digest, sk) => signDigest(digest, sk),
  signsOffThread: false,
  queueDepth: () => 0,
  close() {},
};

/** Jobs queued per worker above which a response is signed on the event loop instead (signOnWorkers). */
export const SIGN_BACKLOG = 3;

type Job =
  | { kind: "verify"; resolve: (ok: boolean) => void; check: SignatureCheck }
  | { kind: "then"; resolve: (r: FollowedUp) => void; check: SignatureCheck }
  | { kind: "sign"; resolve: (sig: string) => void; digest: Uint8Array; sk: Uint8Array };

/** Runs a job on this thread (a broken or closed pool answers what it held this way). */
function inline(job: Job): void {
  if (job.kind === "verify") void inlineVerifier.verifyAny(job.check).then(job.resolve);
  else if (job.kind === "then") void inlineVerifier.verifyThen(job.check, { checks: [] }).then(job.resolve);
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
    w.onmessage = (e: MessageEvent<{ id: number; ok?: boolean; sig?: string; checks?: boolean[] }>) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (p?.kind === "verify") p.resolve(e.data.ok === true);
      else if (p?.kind === "then") p.resolve({ ok: e.data.ok === true, checks: e.data.checks ?? [], sig: e.data.sig });
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
  /** Self-balancing: while the workers have a backlog (they are the bottleneck), the event loop signs itself. */
  const backlogged = () => pending.size >= SIGN_BACKLOG * workers.length;
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
    verifyThen(check, then) {
      if (broken) return inlineVerifier.verifyThen(check, then);
      const sign = opts.sign && !backlogged() ? then.sign : undefined;
      return new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, { kind: "then", resolve, check });
        workers[next++ % workers.length]!.postMessage({ id, ...check, then: { checks: then.checks, sign } });
      });
    },
    signsOffThread: opts.sign === true,
    signDigest(digest, sk) {
      if (broken || !opts.sign || backlogged()) return inlineVerifier.signDigest(digest, sk);
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
