// Issue 14 item 6: every line of src/ fits in 120 columns, so a diff stays readable side by side. Checked here because
// prettier wraps code but not comments or template strings, which is where lines crept back past it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const MAX_COLUMNS = 120;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** `file:line (columns)` for every line longer than the limit; columns are characters, not bytes. */
function longLines(path: string, text: string): string[] {
  return text
    .split("\n")
    .flatMap((line, i) => ([...line].length > MAX_COLUMNS ? [`${path}:${i + 1} (${[...line].length})`] : []));
}

test("the check counts characters and finds a long line (control)", () => {
  expect(longLines("x", "—".repeat(MAX_COLUMNS))).toEqual([]);
  expect(longLines("x", `ok\n${"a".repeat(MAX_COLUMNS + 1)}`)).toEqual([`x:2 (${MAX_COLUMNS + 1})`]);
});

test(`every line of src/ is at most ${MAX_COLUMNS} columns`, () => {
  const long = sources(SRC).flatMap((path) => longLines(relative(SRC, path), readFileSync(path, "utf8")));
  expect(long).toEqual([]);
});
