// The human table and bench/results/latest.json: the same figures, printed and saved.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Latency } from "./load";

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const lat = (l: Latency) => `p50 ${f(l.p50, 2)}  p90 ${f(l.p90, 2)}  p99 ${f(l.p99, 2)}  max ${f(l.max, 2)} ms  (n=${l.n})`;

export type Row = [label: string, value: string];

export function section(title: string, rows: Row[]): string {
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`\n== ${title}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join("\n");
}

export const fmt = { f, lat };

export function writeResults(results: unknown): string {
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "latest.json");
  writeFileSync(path, JSON.stringify(results, null, 2) + "\n");
  return path;
}
