// Issue 15: one serving process per data dir. A second `serve` exits non-zero (75) within 5 s with a clear
// message and leaves the first serving and its database untouched; the lock dies with its process (kill -9).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EXIT } from "../../src/cli/run";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
const work = mkdtempSync(join(tmpdir(), "oc-lock-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function spawnServe(dataDir: string, extra: string[] = []) {
  return Bun.spawn([process.execPath, MAIN, "serve", "--port", "0", "--data-dir", dataDir, ...extra], {
    cwd: work,
    env: { PATH: process.env.PATH ?? "", HOME: work },
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function listening(p: ReturnType<typeof spawnServe>): Promise<string> {
  const reader = p.stdout.getReader();
  let buf = "";
  while (!/"gateway listening"/.test(buf)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited: " + buf + (await new Response(p.stderr).text()));
    buf += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return /"url":"(http:\/\/[^"]+)"/.exec(buf)![1]!;
}

test("a second serve on a served data dir exits 75 within 5 s; the first keeps serving; kill -9 frees the dir", async () => {
  const dataDir = join(work, "data");
  const first = spawnServe(dataDir, ["--demo"]);
  const url = await listening(first);
  const before = await (await fetch(`${url}/opencharge/metadata.json`)).json();

  const started = Date.now();
  const second = spawnServe(dataDir, ["--demo"]);
  const code = await second.exited;
  const elapsed = Date.now() - started;
  const err = await new Response(second.stderr).text();
  const out = await new Response(second.stdout).text();
  expect(code).toBe(EXIT.locked);
  expect(elapsed).toBeLessThan(5000);
  expect(err).toContain(`another gateway is already serving the data dir ${dataDir}`);
  expect(err.trim().split("\n")).toHaveLength(1);
  expect(out + err).not.toContain("listening");
  expect(out + err).not.toContain("demo user");

  // The first is untouched: same key, still serving, still the only demo user.
  const after = await (await fetch(`${url}/opencharge/metadata.json`)).json();
  expect(after.config.publicKey).toBe(before.config.publicKey);
  const users = Bun.spawnSync([process.execPath, MAIN, "users", "list", "--data-dir", dataDir], { cwd: work });
  expect(users.stdout.toString().trim().split("\n").filter((l) => l.includes("demo"))).toHaveLength(1);

  first.kill("SIGKILL");
  await first.exited;
  const third = spawnServe(dataDir);
  await listening(third);
  third.kill("SIGTERM");
  expect(await third.exited).toBe(0);
}, 30_000);
