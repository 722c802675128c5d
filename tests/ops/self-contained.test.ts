// Issue 15: the repository is self-contained and its README works verbatim on a fresh clone with only Node/npm.
// (The fresh clone itself: `git clone -q . /tmp/fresh/repo && cd /tmp/fresh/repo && CI=true bash .ci/run`.)
import { expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { USAGE } from "../../src/cli/run";
import { ENV_NAMES } from "../../src/config";

const ROOT = resolve(import.meta.dir, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === ".tools" || name === "dist" || name === "results") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}

test("no source, test, bench, CI or config file reaches outside the repository (the shared folder beside it)", () => {
  const outside = [".." + "/shared", "/work" + "/shared"];
  // A quoted relative path in code is judged by where it lands from its own file (a fixture two folders down may
  // import "../../../src/…"); comment lines are prose written from wherever the example is meant to run.
  const RELATIVE = /["'`]((?:\.\.\/)+[\w.@-][\w./@-]*)/g;
  const code = (text: string) => text.split("\n").filter((l) => !/^\s*(\/\/|\*|#)/.test(l)).join("\n");
  const roots = ["src", "tests", "bench", ".ci", "web"].map((d) => join(ROOT, d));
  const tops = ["package.json", "tsconfig.json", "bunfig.toml", "Dockerfile"].map((f) => join(ROOT, f)).filter(existsSync);
  const offenders: string[] = [];
  for (const f of [...roots.flatMap((r) => [...files(r)]), ...tops]) {
    if (!/\.(ts|js|json|toml|sh|md|html|css|sql)$|\/run$|\/setup-extra$|Dockerfile$/.test(f)) continue;
    const text = readFileSync(f, "utf8");
    for (const o of outside) if (text.includes(o)) offenders.push(`${relative(ROOT, f)}: ${o}`);
    for (const [, p] of code(text).matchAll(RELATIVE))
      if (relative(ROOT, resolve(dirname(f), p!)).startsWith("..")) offenders.push(`${relative(ROOT, f)}: ${p}`);
  }
  expect(offenders).toEqual([]);
  expect(existsSync(join(ROOT, "tests/vectors/opencharge-vectors.json"))).toBe(true);
});

/** The shell lines of the README's ```sh blocks. */
const readmeCommands = (): string[] =>
  [...README.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n")).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

test("README commands need only Node/npm: Bun is always `npx -y bun@<the CI's version>`, never a bare `bun`", () => {
  const ciVersion = /BUN_VERSION=([0-9.]+)/.exec(readFileSync(join(ROOT, ".ci/run"), "utf8"))![1];
  const cmds = readmeCommands();
  expect(cmds.length).toBeGreaterThan(5);
  for (const c of cmds) {
    expect(c).not.toMatch(/(^|[;&|]\s*)bun\s/);
    for (const m of c.matchAll(/npx -y bun@([0-9.]+)/g)) expect(m[1]).toBe(ciVersion!);
  }
  // CI runs exactly the README's test command.
  expect(cmds).toContain("bash .ci/run                  # installs Bun locally, type-checks, runs the whole test suite");
});

test("every `oc` command the README shows exists, and every OC_ variable it names is a setting", () => {
  for (const c of readmeCommands()) {
    const m = /run oc -- ([a-z-]+)/.exec(c) ?? /dist\/opencharge-gateway ([a-z-]+)/.exec(c);
    if (m) expect(USAGE).toContain(`  ${m[1]}`);
  }
  const tools = new Set(["OC_CONFIG", "OC_RELIABILITY_SEED"]);
  for (const [name] of README.matchAll(/OC_[A-Z_]+[A-Z]/g)) if (!tools.has(name)) expect([name, ENV_NAMES.has(name)]).toEqual([name, true]);
});

test("the README links the protocol profile, and the profile is a real document", () => {
  expect(README).toContain("(docs/protocol.md)");
  const doc = readFileSync(join(ROOT, "docs/protocol.md"), "utf8");
  expect(doc.length).toBeGreaterThan(2000);
});
