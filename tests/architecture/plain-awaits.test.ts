// No test waits with bun:test's `.resolves` / `.rejects` matchers (tests/helpers/settled.ts says why: in Bun 1.4.5
// they wait with a nested event-loop turn that cannot run the setImmediate callbacks of the batch it was called
// from, and the gateway under test, in the same process, starts every SQLite transaction on one; the hosted
// checkout test stalled 8 s that way). Plain awaits instead: `expect(await p)…`, `thrown(p)`, `rejectionOf(p)`.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const TESTS = resolve(import.meta.dir, "..");
/** A matcher chained on `expect(…)`: `).resolves.` or `).rejects.`, possibly across a line break. */
const NESTED_WAIT = /\)\s*\.(resolves|rejects)\s*\./g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mts|tsx)$/.test(name) ? [path] : [];
  });
}

function nestedWaits(text: string): number {
  return [...text.matchAll(NESTED_WAIT)].length;
}

test("the scan finds a nested-wait matcher (control)", () => {
  expect(nestedWaits("await expect(p).resolves.toBe(1);")).toBe(1);
  expect(nestedWaits("await expect(\n  store.read(x),\n).rejects.toThrow();")).toBe(1);
  expect(nestedWaits("expect(await p).toBe(1); expect(await thrown(p)).toThrow();")).toBe(0);
});

test("no test uses .resolves or .rejects", () => {
  const offenders = sources(TESTS)
    .filter((path) => !path.endsWith("plain-awaits.test.ts"))
    .map((path) => [relative(TESTS, path), nestedWaits(readFileSync(path, "utf8"))] as const)
    .filter(([, n]) => n > 0);
  expect(offenders).toEqual([]);
});
