// Issue 12: `oc directory set <ocid> --encoding E --hash H` and what `oc directory list` shows, through the CLI's
// own entry point (in process; the binary test covers the executable itself).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/run";

const dir = mkdtempSync(join(tmpdir(), "oc-dialects-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function oc(...args: string[]) {
  const lines: string[] = [];
  const code = await runCli([...args, "--data-dir", dir], { log: (s) => lines.push(s), err: (s) => lines.push(s) });
  return { code, out: lines.join("\n") };
}

test("directory set: an override per entry, shown by list; auto gives each half back; bad values refused", async () => {
  expect((await oc("init")).code).toBe(0);
  expect((await oc("directory", "add", "500", "https://merchant.example/opencharge")).code).toBe(0);
  expect((await oc("directory", "list")).out).toContain("500\thttps://merchant.example/opencharge\toperator\tsign=rsv130/sha256 (spec)");
  expect((await oc("directory", "set", "500", "--encoding", "der", "--hash", "sha256")).out).toContain("500\tsign=der/sha256 (override)");
  expect((await oc("directory", "list")).out).toContain("500\thttps://merchant.example/opencharge\toperator\tsign=der/sha256 (override)");
  expect((await oc("directory", "set", "500", "--hash", "double-sha256")).out).toContain("sign=der/double-sha256 (override)");
  expect((await oc("directory", "set", "500", "--encoding", "base64")).code).toBe(1);
  expect((await oc("directory", "set", "500", "--hash", "sha512")).code).toBe(1);
  expect((await oc("directory", "set", "500")).code).toBe(2);
  expect((await oc("directory", "set", "500", "--encoding", "auto")).out).toContain("sign=rsv130/double-sha256 (spec/override)");
  expect((await oc("directory", "set", "500", "--hash", "auto")).out).toContain("sign=rsv130/sha256 (spec)");
  // A peer known only by its dialect (resolved through the registry) is listed too.
  expect((await oc("directory", "set", "777", "--encoding", "compact128")).code).toBe(0);
  expect((await oc("directory", "list")).out).toContain("777\t-\tresolved\tsign=compact128/sha256 (override/spec)");
});
