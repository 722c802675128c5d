// Per-minute fixed windows in memory: limits protect the process, they hold no money state (§16 rateLimits; 0 = off).
// The table is bounded by eviction, never by a reset: windows of past minutes go first; when every window is live
// (a flood of distinct keys inside one minute), new keys share one overflow window per limit instead of displacing
// anyone. (Clearing the whole table at 100,000 keys used to lift every 429, the attacker's included.)
// Per node, by design: each process counts only the requests it served, so behind a load balancer spreading a
// client over N nodes every limit allows up to N x (README "Per-node state": divide, or limit at the balancer).
export const MAX_RATE_KEYS = 100_000;

type Window = { start: number; count: number };
const OVERFLOW = "overflow:";

export class RateLimiter {
  private windows = new Map<string, Window>();
  constructor(
    private readonly clock: () => number,
    private readonly maxKeys = MAX_RATE_KEYS,
  ) {}

  get size(): number {
    return this.windows.size;
  }

  /** null when allowed, else seconds until the window resets (for Retry-After). */
  take(key: string, perMinute: number): number | null {
    if (!perMinute) return null;
    const now = this.clock();
    const start = now - (now % 60);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (w)
        this.windows.delete(key); // re-inserted below: the map's order is oldest window first
      else if (this.windows.size >= this.maxKeys && !key.startsWith(OVERFLOW) && !this.evictPast(start))
        return this.take(`${OVERFLOW}${perMinute}`, perMinute); // one extra window per distinct limit, at most
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count > perMinute ? Math.max(1, start + 60 - now) : null;
  }

  /** Drops windows of past minutes (oldest first, in insertion order); true when room was made. */
  private evictPast(start: number): boolean {
    let freed = 0;
    for (const [k, w] of this.windows) {
      if (w.start >= start) break; // every later entry was (re)inserted in this minute
      this.windows.delete(k);
      if (++freed >= 1024) break; // bounded work per call; the next insert frees more
    }
    return freed > 0;
  }
}
