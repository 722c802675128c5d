// Issue 7: the single executable, run as a subprocess from an empty directory, and its CLI.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, serveBinary } from "../helpers/binary";

let bin: string;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "oc-bin-"));
  bin = compiledBinary();
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function oc(args: string[], dir: string, env: Record<string, string> = {}) {
  const r = Bun.spawnSync([bin, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const serve = (dir: string, args: string[] = []) => serveBinary(bin, dir, args);

test("the binary runs from an empty directory with no node_modules, serves signed metadata, and stops on SIGTERM", async () => {
  const dir = mkdtempSync(join(work, "empty-"));
  expect(existsSync(join(dir, "node_modules"))).toBe(false);
  const { p, url } = await serve(dir, ["--demo"]);
  const res = await fetch(`${url}/opencharge/metadata.json`);
  expect(res.status).toBe(200);
  const doc = await res.json();
  expect(doc.config.endpoint).toBe(`${url}/opencharge`);
  const page = await fetch(url + "/app/me");
  expect(page.status).toBe(401);
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
  expect(statSync(join(dir, "data", "gateway.key")).mode & 0o777).toBe(0o600);
});

test("CLI: init, users add/list/credit/token, directory, orders, ledger, deliveries — exit codes and output", () => {
  const dir = mkdtempSync(join(work, "cli-"));
  expect(oc(["--version"], dir).out).toMatch(/^opencharge-gateway \d+\.\d+\.\d+/);
  expect(oc(["users", "list"], dir).code).toBe(78); // no data dir yet: a friendly configuration error
  const init = oc(["init"], dir);
  expect(init.code).toBe(0);
  expect(init.out).toMatch(/public key: [0-9a-f]{128}/);
  const add = oc(["users", "add", "alice", "--credit", "USD:12.50", "--credit", "EUR:3"], dir);
  expect(add.code).toBe(0);
  const lines = add.out.trim().split("\n");
  expect(lines[lines.length - 1]).toMatch(/^[0-9a-f]{64}$/);
  expect(oc(["users", "add", "alice"], dir).code).toBe(1);
  expect(oc(["users", "credit", "alice", "USD:1.005"], dir).code).toBe(1);
  expect(oc(["users", "credit", "alice", "USD:7.50"], dir).code).toBe(0);
  expect(oc(["users", "list"], dir).out).toContain("EUR 3.00, USD 20.00");
  const tok = oc(["users", "token", "alice"], dir).out.trim().split("\n").pop()!;
  expect(tok).toMatch(/^[0-9a-f]{64}$/);
  expect(tok).not.toBe(lines[lines.length - 1]);
  expect(oc(["directory", "add", "500", "https://merchant.example/opencharge"], dir).code).toBe(0);
  expect(oc(["directory", "list"], dir).out).toContain("500\thttps://merchant.example/opencharge\toperator\tsign=rsv130/sha256 (spec)");
  expect(oc(["directory", "add", "0", "https://x.example"], dir).code).toBe(1);
  expect(oc(["directory", "remove", "500"], dir).code).toBe(0);
  expect(oc(["directory", "remove", "500"], dir).code).toBe(1);
  expect(oc(["orders", "list"], dir).code).toBe(0);
  expect(oc(["orders", "show", "42"], dir).code).toBe(1);
  expect(oc(["deliveries", "list", "--state", "bogus"], dir).code).toBe(1);
  const ledger = oc(["ledger", "balances"], dir);
  expect(ledger.code).toBe(0);
  expect(ledger.out).toContain("ledger: balanced");
  expect(oc(["frobnicate"], dir).code).toBe(2);
  expect(oc(["users", "--nope"], dir).code).toBe(2);
  for (const c of ["serve", "init", "keygen", "directory", "users", "orders", "deliveries", "ledger"]) {
    const h = oc([c, "--help"], dir);
    expect(h.code).toBe(0);
    expect(h.out).toContain(`usage: oc ${c}`);
  }
  expect(oc(["keygen"], dir).out).toMatch(/private key: [0-9a-f]{64}\npublic key: +[0-9a-f]{128}/);
  expect(oc(["init"], dir, { OC_PRIVATE_KEY: "nothex" }).code).toBe(78);
});

test("flags override environment, which overrides the config file", async () => {
  const dir = mkdtempSync(join(work, "prec-"));
  await Bun.write(join(dir, "c.json"), JSON.stringify({ ocid: 111, name: "From file" }));
  const fromFile = oc(["init", "--config", "c.json"], dir);
  expect(fromFile.out).toContain("ocid: 111");
  expect(oc(["init", "--config", "c.json"], dir, { OC_OCID: "222" }).out).toContain("ocid: 222");
  expect(oc(["init", "--config", "c.json", "--ocid", "333"], dir, { OC_OCID: "222" }).out).toContain("ocid: 333");
  expect(oc(["init", "--config", "missing.json"], dir).code).toBe(78);
});

test("a port in use is a friendly error with exit code 69", async () => {
  const dir = mkdtempSync(join(work, "port-"));
  const { p, url } = await serve(dir);
  const port = new URL(url).port;
  const second = oc(["serve", "--port", port, "--data-dir", join(dir, "other")], dir);
  expect(second.code).toBe(69);
  expect(second.err).toContain("already in use");
  p.kill("SIGTERM");
  await p.exited;
});

test("the binary verifies signed requests on its embedded verification worker", async () => {
  const { TestPeer } = await import("../peers/kit");
  const peer = await TestPeer.start({ ocid: 500 });
  const dir = mkdtempSync(join(work, "worker-"));
  await Bun.write(join(dir, "c.json"), JSON.stringify({ directory: { "500": peer.endpoint }, outboundAllowlist: ["127.0.0.0/8"], verifyWorkers: 1 }));
  const { p, url } = await serve(dir, ["--config", "c.json"]);
  try {
    const ok = await peer.call(url, "GET", "/opencharge/capabilities");
    expect(ok.status).toBe(200);
    const forged = await peer.call(url, "GET", "/opencharge/capabilities", undefined, { signature: "11".repeat(65) });
    expect(forged.status).toBe(401);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
    await peer.stop();
  }
});
