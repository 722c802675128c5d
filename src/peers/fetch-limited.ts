// One outbound HTTP exchange with a deadline and a response-size cap; never follows redirects by itself.
export type FetchOutcome =
  | { ok: true; status: number; headers: Headers; body: Uint8Array; latencyMs: number }
  | { ok: false; reason: "timeout" | "network" | "too_large"; detail?: string; latencyMs: number };

export async function fetchLimited(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string },
  opts: { timeoutMs: number; maxBytes: number; fetchImpl?: typeof fetch },
): Promise<FetchOutcome> {
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const since = () => Math.round(performance.now() - started);
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, { ...init, body: init.body as BodyInit | undefined, redirect: "manual", signal });
  } catch (e) {
    const name = (e as Error)?.name;
    return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network", detail: String((e as Error)?.message ?? e), latencyMs: since() };
  }
  try {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > opts.maxBytes) {
      res.body?.cancel().catch(() => {});
      return { ok: false, reason: "too_large", latencyMs: since() };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > opts.maxBytes) {
          reader.cancel().catch(() => {});
          return { ok: false, reason: "too_large", latencyMs: since() };
        }
        chunks.push(value);
      }
    }
    const body = new Uint8Array(size);
    let off = 0;
    for (const c of chunks) {
      body.set(c, off);
      off += c.byteLength;
    }
    return { ok: true, status: res.status, headers: res.headers, body, latencyMs: since() };
  } catch (e) {
    const name = (e as Error)?.name;
    return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network", detail: String((e as Error)?.message ?? e), latencyMs: since() };
  }
}
