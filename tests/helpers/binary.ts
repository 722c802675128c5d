// The single executable, built once per test process (test files share it), and started from a directory.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
let built: string | null = null;

export function compiledBinary(): string {
  if (built) return built;
  const bin = join(mkdtempSync(join(tmpdir(), "oc-bin-")), "opencharge-gateway");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", join(ROOT, "src/main.ts"), join(ROOT, "src/verify-worker.ts"), "--outfile", bin], { cwd: ROOT });
  if (build.exitCode !== 0) throw new Error("build failed: " + build.stderr.toString());
  return (built = bin);
}

/** Starts `bin serve --port 0 …` in `dir` and waits for its "gateway listening" log line. */
export async function serveBinary(bin: string, dir: string, args: string[] = [], env: Record<string, string> = {}) {
  const p = Bun.spawn([bin, "serve", "--port", "0", ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir, ...env }, stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let buf = "";
  while (!/"gateway listening"/.test(buf)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited: " + buf + (await new Response(p.stderr).text()));
    buf += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { p, url: /"url":"(http:\/\/[^"]+)"/.exec(buf)![1]! };
}
