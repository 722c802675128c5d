// Issue 15: the Dockerfile, linted and executed here without Docker: its build stage's COPY/RUN steps run in a
// scratch dir (so a file it forgets to copy fails the build), and the binary it produces runs the way the
// runtime stage runs it (its ENV, a non-root uid, the data dir volume). Plus the example systemd unit.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { validate } from "dockerfile-utils";
import { DockerfileParser } from "dockerfile-ast";

const ROOT = resolve(import.meta.dir, "../..");
const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const work = mkdtempSync(join(tmpdir(), "oc-docker-"));
chmodSync(work, 0o755);
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Step = { keyword: string; args: string[]; raw: string };
const stages: Step[][] = [];
for (const i of DockerfileParser.parse(text).getInstructions()) {
  if (i.getKeyword() === "FROM") stages.push([]);
  stages[stages.length - 1]!.push({ keyword: i.getKeyword(), args: i.getArguments().map((a) => a.getValue()), raw: i.getArgumentsContent() ?? "" });
}
const [build, runtime] = stages as [Step[], Step[]];
const one = (stage: Step[], k: string) => stage.filter((s) => s.keyword === k);
const json = (s: Step) => JSON.parse(s.raw) as string[];

test("the Dockerfile lints clean and has the shape we promise: two stages, non-root user, data dir volume", () => {
  expect(validate(text)).toEqual([]);
  expect(stages).toHaveLength(2);
  const env = Object.fromEntries(one(runtime, "ENV").flatMap((s) => s.args.map((a) => a.split("=") as [string, string])));
  expect(env.OC_DATA_DIR).toBe("/data");
  expect(one(runtime, "VOLUME").map(json)).toEqual([["/data"]]);
  const user = one(runtime, "USER").at(-1)!.raw;
  expect(user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/); // numeric and not 0: non-root even without /etc/passwd
  expect(one(runtime, "EXPOSE").map((s) => s.raw)).toEqual([env.OC_PORT!]);
  // The runtime stage takes only the binary from the build stage, and runs it.
  const copied = /^COPY --from=build (\S+) (\S+)$/m.exec(text);
  expect(copied?.[1]).toBe("/out/opencharge-gateway");
  expect(json(one(runtime, "ENTRYPOINT")[0]!)).toEqual([copied![2]!]);
  expect(json(one(runtime, "CMD")[0]!)).toEqual(["serve"]);
  expect(one(build, "RUN").at(-1)!.raw).toContain("bun build --compile");
});

test("its build stage builds the binary from exactly what it copies; the binary runs as the runtime stage runs it", async () => {
  // Build stage: WORKDIR / COPY / RUN in a scratch dir, with /src and /out mapped into it.
  const map = (p: string) => p.replace(/^\/src\b/, join(work, "src-stage")).replace(/\/out\//g, join(work, "out") + "/");
  let cwd = work;
  for (const s of build) {
    if (s.keyword === "WORKDIR") mkdirSync((cwd = map(s.raw)), { recursive: true });
    else if (s.keyword === "COPY") {
      const rawDest = s.args.at(-1)!;
      const dest = resolve(cwd, rawDest);
      const intoDir = s.args.length > 2 || rawDest.endsWith("/");
      for (const src of s.args.slice(0, -1)) cpSync(join(ROOT, src), intoDir ? join(dest, src.split("/").pop()!) : dest, { recursive: true });
    } else if (s.keyword === "RUN") {
      mkdirSync(join(work, "out"), { recursive: true });
      const r = Bun.spawnSync(["bash", "-c", map(s.raw)], { cwd, env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: work } });
      expect([s.raw, r.exitCode, r.exitCode === 0 ? "" : r.stderr.toString().slice(-2000)]).toEqual([s.raw, 0, ""]);
    }
  }
  const bin = join(work, "out", "opencharge-gateway");
  chmodSync(join(work, "out"), 0o755);
  expect(statSync(bin).mode & 0o111).not.toBe(0);

  // Runtime stage: its ENV, a data dir owned by its user, its user id, its CMD (only the port is made free here).
  const [uid, gid] = one(runtime, "USER").at(-1)!.raw.split(":").map(Number) as [number, number];
  const data = join(work, "data");
  mkdirSync(data, { mode: 0o700 });
  const root = process.getuid?.() === 0;
  if (root) chownSync(data, uid, gid);
  const env: Record<string, string> = { PATH: "/usr/bin:/bin" };
  for (const s of one(runtime, "ENV")) for (const a of s.args) env[a.split("=")[0]!] = a.split("=").slice(1).join("=");
  Object.assign(env, { OC_DATA_DIR: data, OC_PORT: "0", HOME: data });
  const p = Bun.spawn([bin, ...json(one(runtime, "CMD")[0]!)], { cwd: data, env, stdout: "pipe", stderr: "pipe", ...(root ? { uid, gid } : {}) });
  try {
    const reader = p.stdout.getReader();
    let buf = "";
    while (!/"gateway listening"/.test(buf)) {
      const { value, done } = await reader.read();
      if (done) throw new Error("binary exited: " + buf + (await new Response(p.stderr).text()));
      buf += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const port = /"url":"http:\/\/[^:]+:(\d+)"/.exec(buf)![1];
    const url = `http://127.0.0.1:${port}`;
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true, checks: { database: "ok", scheduler: "ok", key: "ok" }, notReady: [] }]);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    for (const f of ["gateway.sqlite", "gateway.key"]) {
      const st = statSync(join(data, f));
      expect([f, st.mode & 0o777, root ? st.uid : uid]).toEqual([f, 0o600, uid]);
    }
  } finally {
    p.kill("SIGTERM");
  }
  expect(await p.exited).toBe(0);
}, 180_000);

test("the example systemd unit runs the binary as its own user, keeps the data dir private, and never restarts into 75/78", () => {
  const unit = readFileSync(join(ROOT, "deploy/opencharge-gateway.service"), "utf8");
  const kv = (k: string) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, "gm"))].map((m) => m[1]!);
  expect(kv("ExecStart")).toEqual(["/usr/local/bin/opencharge-gateway serve"]);
  expect(kv("User")).toEqual(["opencharge"]);
  expect(kv("UMask")).toEqual(["0077"]);
  expect(kv("StateDirectoryMode")).toEqual(["0700"]);
  expect(kv("RestartPreventExitStatus")).toEqual(["75 78"]);
  expect(kv("Environment")).toContain("OC_DATA_DIR=/var/lib/opencharge");
  expect(kv("Environment").some((e) => e.startsWith("OC_PUBLIC_URL=https://"))).toBe(true);
  for (const section of ["[Unit]", "[Service]", "[Install]"]) expect(unit).toContain(section);
});
