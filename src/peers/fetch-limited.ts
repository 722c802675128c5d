// One outbound HTTP exchange with a deadline and a response-size cap; never follows redirects by itself.
import { assertOutsideTransaction } from "../store/transaction-context";
import { durable } from "../store/durability";
export type FetchOutcome =
  | { ok: true; status: number; headers: Headers; body: Uint8Array; latencyMs: number }
  | { ok: false; reason: "timeout" | "network" | "too_large"; detail?: string; latencyMs: number };

/**
 * Reads a byte stream, giving up once it passes `max` bytes ("too_large"). With a signal, every read also races
 * the deadline, whatever the stream's producer does with the signal once headers have arrived.
 */
export async function readAtMost(
  stream: ReadableStream<Uint8Array> | null,
  max: number,
  signal?: AbortSignal,
): Promise<Uint8Array | "too_large"> {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        const fire = () => reject(signal.reason ?? new DOMException("timed out", "TimeoutError"));
        if (signal.aborted) fire();
        else signal.addEventListener("abort", fire, { once: true });
      })
    : null;
  aborted?.catch(() => {});
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = aborted ? await Promise.race([reader.read(), aborted]) : await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        reader.cancel().catch(() => {});
        return "too_large";
      }
      chunks.push(value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

const failureReason = (e: unknown) =>
  (e as Error)?.name === "TimeoutError" || (e as Error)?.name === "AbortError" ? "timeout" : "network";

export async function fetchLimited(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string },
  opts: { timeoutMs: number; maxBytes: number; fetchImpl?: typeof fetch },
): Promise<FetchOutcome> {
  assertOutsideTransaction(`outbound HTTP ${init.method}`);
  // Group commit (src/store/durability.ts): nothing goes out, and no money moves, on a commit not yet on disk.
  try {
    await durable();
  } catch (e) {
    return {
      ok: false,
      reason: "network",
      detail: `not sent: the local database failed to sync (${String(e)})`,
      latencyMs: 0,
    };
  }
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const since = () => Math.round(performance.now() - started);
  try {
    const res = await (opts.fetchImpl ?? fetch)(url, {
      ...init,
      body: init.body as BodyInit | undefined,
      redirect: "manual",
      signal,
    });
    if (Number(res.headers.get("content-length") ?? "0") > opts.maxBytes) {
      res.body?.cancel().catch(() => {});
      return { ok: false, reason: "too_large", latencyMs: since() };
    }
    const body = await readAtMost(res.body, opts.maxBytes, signal);
    if (body === "too_large") return { ok: false, reason: "too_large", latencyMs: since() };
    return { ok: true, status: res.status, headers: res.headers, body, latencyMs: since() };
  } catch (e) {
    return { ok: false, reason: failureReason(e), detail: String((e as Error)?.message ?? e), latencyMs: since() };
  }
}
