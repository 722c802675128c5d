// Per-minute fixed windows in memory: limits protect the process, they hold no money state (§16 rateLimits; 0 = off).
export class RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly clock: () => number) {}

  /** null when allowed, else seconds until the window resets (for Retry-After). */
  take(key: string, perMinute: number): number | null {
    if (!perMinute) return null;
    const now = this.clock();
    const start = now - (now % 60);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (this.windows.size > 100_000) this.windows.clear();
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count > perMinute ? Math.max(1, start + 60 - now) : null;
  }
}
