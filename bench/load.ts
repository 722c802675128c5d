// Load generator: one client process, pre-signed requests (no crypto or JSON in the timed window), Bun's fetch with
// keep-alive connections. Closed loop (K workers, each one request in flight) for the maximum; open loop (sends on
// a fixed schedule whatever the responses) for a fixed offered load. Latency is taken to the last body byte.
import type { SignedSubmit } from "./peers";

export type Latency = { n: number; p50: number; p90: number; p99: number; max: number; mean: number };

export function latency(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length ? s[s.length - 1]! : NaN, mean };
}

export type LoadResult = {
  sent: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  per_s: number;
  latency_ms: Latency;
  client_cpu_pct: number;
};

type Outcome = { ok: boolean; detail?: string };

async function send(base: string, r: SignedSubmit): Promise<Outcome> {
  try {
    const res = await fetch(base + r.path, { method: "POST", headers: r.headers, body: r.body });
    const text = await res.text();
    return res.status === 200 ? { ok: true } : { ok: false, detail: `${res.status} ${text.slice(0, 200)}` };
  } catch (e) {
    return { ok: false, detail: String(e) };
  }
}

function collector() {
  const lat: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  return {
    lat,
    record(o: Outcome, ms: number) {
      if (o.ok) lat.push(ms);
      else if ((errors++, errorSamples.length < 5)) errorSamples.push(o.detail ?? "?");
    },
    result(sent: number, seconds: number, cpu: NodeJS.CpuUsage): LoadResult {
      return {
        sent,
        ok: lat.length,
        errors,
        errorSamples,
        seconds,
        per_s: lat.length / seconds,
        latency_ms: latency(lat),
        client_cpu_pct: ((cpu.user + cpu.system) / 1e4) / seconds,
      };
    },
  };
}

/** K workers, each with one request in flight, until the requests run out or `seconds` pass. */
export async function closedLoop(base: string, reqs: SignedSubmit[], concurrency: number, seconds: number): Promise<LoadResult> {
  const c = collector();
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let last = t0;
  const worker = async () => {
    while (next < reqs.length && performance.now() < deadline) {
      const r = reqs[next++]!;
      const t = performance.now();
      const o = await send(base, r);
      last = performance.now();
      c.record(o, last - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return c.result(next, (last - t0) / 1000, process.cpuUsage(cpu0));
}

/**
 * Open loop: request i is due at t0 + i/rate and is sent then, however many are still in flight; its latency runs
 * from when it was due (so a late send counts against the server, no coordinated omission).
 */
export async function openLoop(base: string, reqs: SignedSubmit[], rate: number, seconds: number): Promise<LoadResult & { max_send_lag_ms: number }> {
  const c = collector();
  const n = Math.min(reqs.length, Math.floor(rate * seconds));
  const interval = 1000 / rate;
  const inflight: Promise<void>[] = [];
  let maxLag = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  while (i < n) {
    const now = performance.now();
    while (i < n && t0 + i * interval <= now) {
      const due = t0 + i * interval;
      maxLag = Math.max(maxLag, now - due);
      inflight.push(send(base, reqs[i++]!).then((o) => c.record(o, performance.now() - due)));
    }
    await Bun.sleep(Math.max(0, Math.min(interval, t0 + i * interval - performance.now())));
  }
  await Promise.all(inflight);
  return { ...c.result(n, (performance.now() - t0) / 1000, process.cpuUsage(cpu0)), max_send_lag_ms: maxLag };
}
