// Issue 15: every class of bad configuration exits 78 naming the key, the value and what is expected (no stack
// trace, never "listening"); unknown keys warn; start-up failures on disk say what to do. Real `oc` subprocesses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, ENV_NAMES, loadConfig } from "../../src/config";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "oc-config-"));
  chmodSync(work, 0o755);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Root ignores file modes, so permission cases run the gateway as `nobody` when the tests run as root. */
const asUnprivileged = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

function oc(args: string[], env: Record<string, string> = {}, opts: { unprivileged?: boolean } = {}) {
  const home = mkdtempSync(join(work, "home-"));
  chmodSync(home, 0o777);
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
    timeout: 15_000,
    ...(opts.unprivileged ? asUnprivileged : {}),
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function configFile(settings: unknown): string {
  const p = join(mkdtempSync(join(work, "cfg-")), "config.json");
  writeFileSync(p, typeof settings === "string" ? settings : JSON.stringify(settings));
  return p;
}

function expectConfigFailure(r: ReturnType<typeof oc>, ...mentions: string[]) {
  expect(r.code).toBe(78);
  for (const m of mentions) expect(r.err).toContain(m);
  expect(r.err).not.toMatch(/\n\s+at .*\(/); // no stack trace
  expect(r.err.trim().split("\n")).toHaveLength(1);
  expect(r.out + r.err).not.toContain("listening");
}

const dataDir = () => mkdtempSync(join(work, "data-"));

describe("wrong type or value in the config file: exit 78 with the key, the value and what is expected", () => {
  const cases: [string, unknown, string[]][] = [
    ["a number as a string", { sessionTtl: "300" }, ["sessionTtl", '"300"', "an integer"]],
    ["a number where a string belongs", { name: 5 }, ["name", "5", "string"]],
    ["an unknown currency", { currencies: { enabled: ["ZZZ"] } }, ["currencies.enabled", '"ZZZ"', "ISO 4217"]],
    ["a negative rate limit", { rateLimits: { perIp: -1 } }, ["rateLimits.perIp", "-1", "≥ 0"]],
    ["an out-of-range port", { port: 70000 }, ["port", "70000", "0 to 65535"]],
    ["a word where a boolean belongs", { demoMode: "yes" }, ["demoMode", '"yes"', "true or false"]],
    ["a bad enum", { sqliteSynchronous: "OFF" }, ["sqliteSynchronous", '"OFF"', '"FULL", "NORMAL"']],
    ["a word for the batching switch", { sqliteBatchTransactions: "off" }, ["sqliteBatchTransactions", '"off"', "true or false"]],
    ["a partner without currencies", { partners: [{ ocid: 101 }] }, ["partners.0.reserveCurrencies", "JSON array"]],
    ["an OCID of zero", { acceptIssuers: [0] }, ["acceptIssuers.0", "0", "≥ 1"]],
    ["a public URL that is not one", { publicUrl: "gateway.example" }, ["publicUrl", '"gateway.example"', "http(s) URL"]],
    ["a directory entry that is not http(s)", { directory: { "500": "ftp://m.example" } }, ["directory.500", "http(s) URL"]],
    ["a trusted proxy that is no CIDR", { trustedProxies: ["10.0.0.0/99"] }, ["trustedProxies", '"10.0.0.0/99"', "CIDRs"]],
    ["an allow-list entry that is no CIDR", { outboundAllowlist: ["127.0.0.1/x"] }, ["outboundAllowlist", "CIDRs"]],
    ["a demo balance of an unknown currency", { demoBalance: ["ZZZ:1.00"] }, ["demoBalance", '"ZZZ:1.00"']],
    ["a currency exponent out of range", { currencies: { extra: { USDC: 40 } } }, ["currencies.extra", "40"]],
  ];
  for (const [what, settings, mentions] of cases)
    test(what, () => {
      const file = configFile(settings);
      // No --port flag: it would override the file's; a case that wrongly starts fails on the timeout.
      expectConfigFailure(oc(["serve", "--data-dir", dataDir()], { OC_CONFIG: file }), ...mentions, file);
    });

  test("a config file that is not JSON, not an object, or missing", () => {
    expectConfigFailure(oc(["serve", "--port", "0"], { OC_CONFIG: configFile("{sessionTtl: 3") }), "not valid JSON");
    expectConfigFailure(oc(["serve", "--port", "0"], { OC_CONFIG: configFile("[1,2]") }), "one JSON object");
    expectConfigFailure(oc(["serve", "--port", "0"], { OC_CONFIG: join(work, "nope.json") }), "config file not found");
  });
});

describe("wrong value in the environment or on the command line", () => {
  test("OC_LOG_LEVEL=verbose names the variable and the levels", () => {
    expectConfigFailure(oc(["serve", "--data-dir", dataDir()], { OC_LOG_LEVEL: "verbose" }), "logLevel", "OC_LOG_LEVEL", '"verbose"', '"debug", "info"');
  });
  test("OC_PORT=abc, OC_SESSION_TTL=0, OC_RATE_LIMITS_PER_IP=x", () => {
    expectConfigFailure(oc(["serve"], { OC_PORT: "abc" }), "OC_PORT", '"abc"', "integer");
    expectConfigFailure(oc(["serve"], { OC_SESSION_TTL: "0" }), "sessionTtl", "OC_SESSION_TTL", "0", "≥ 1");
    expectConfigFailure(oc(["serve"], { OC_RATE_LIMITS_PER_IP: "x" }), "rateLimits.perIp", '"x"');
  });
  test("--port and --ocid that are not numbers", () => {
    expectConfigFailure(oc(["serve", "--port", "eighty"]), "--port", "eighty");
    expectConfigFailure(oc(["serve", "--ocid", "x"]), "ocid", "integer");
  });
});

describe("unknown keys warn by name and do not stop the gateway", () => {
  test("a typo in the file and an unknown OC_ variable", () => {
    const dir = dataDir();
    const r = oc(["init", "--data-dir", dir], { OC_CONFIG: configFile({ sesionTtl: 30, rateLimits: { perIP: 1 } }), OC_SESION_TTL: "3" });
    expect(r.code).toBe(0);
    expect(r.err).toContain('unknown setting "sesionTtl"');
    expect(r.err).toContain('unknown setting "rateLimits.perIP"');
    expect(r.err).toContain("unknown environment variable OC_SESION_TTL");
  });
  test("in-process: the warnings travel with the config; valid env values are converted by the schema", () => {
    const c = loadConfig({ env: { OC_SESSION_TTL: "30", OC_ACCEPT_ISSUERS: "7, 8", OC_DEMO_MODE: "true", OC_RATE_LIMITS_PER_IP: "0" }, overrides: { bogus: 1 } as never });
    expect(c.sessionTtl).toBe(30);
    expect(c.acceptIssuers).toEqual([7, 8]);
    expect(c.demoMode).toBe(true);
    expect(c.rateLimits).toEqual({ perIp: 0, perOcid: 300, perToken: 120, payPerUser: 30, demoLoginPerIp: 10 });
    expect(c.warnings).toEqual(['unknown setting "bogus" in overrides (ignored; check its spelling)']);
    expect(() => loadConfig({ env: { OC_PUBLIC_URL: "ftp://x" } })).toThrow(ConfigError);
  });
  test("every leaf setting has an OC_ name (the README's table is generated from the same schema)", () => {
    expect(ENV_NAMES.get("OC_DATA_DIR")).toEqual(["dataDir"]);
    expect(ENV_NAMES.get("OC_OUTBOUND_TIMEOUTS_WEBHOOK_MS")).toEqual(["outboundTimeouts", "webhookMs"]);
    expect(ENV_NAMES.get("OC_ALLOW_PRIVATE")).toEqual(["outboundAllowlist"]);
  });
});

describe("start-up failures: one line saying what to do, exit 78, never listening", () => {
  test("a data dir that cannot be created", () => {
    const file = join(work, "a-file");
    writeFileSync(file, "x");
    expectConfigFailure(oc(["serve", "--port", "0", "--data-dir", join(file, "data")]), "cannot create the data dir", "--data-dir");
  });
  test("a data dir the gateway's user cannot write", () => {
    const dir = dataDir();
    chmodSync(dir, 0o555);
    expectConfigFailure(oc(["serve", "--port", "0", "--data-dir", dir], {}, { unprivileged: true }), "not writable", dir);
  });
  test("a read-only database", () => {
    const dir = dataDir();
    expect(oc(["init", "--data-dir", dir]).code).toBe(0);
    chmodSync(dir, 0o777);
    chmodSync(join(dir, "gateway.sqlite"), 0o444);
    chmodSync(join(dir, "gateway.key"), 0o600);
    if (asUnprivileged.uid) chownSync(join(dir, "gateway.key"), 65534, 65534);
    const r = oc(["serve", "--port", "0", "--data-dir", dir], {}, { unprivileged: true });
    expectConfigFailure(r, "database", "not writable", "chmod 600");
  });
  test("a bad key: garbage in the key file, or OC_PRIVATE_KEY that is not a key", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "gateway.key"), "not-a-key\n", { mode: 0o600 });
    expectConfigFailure(oc(["serve", "--port", "0", "--data-dir", dir]), "gateway.key", "not 64 hex", "oc keygen");
    expectConfigFailure(oc(["serve", "--port", "0", "--data-dir", dataDir()], { OC_PRIVATE_KEY: "zz" }), "not 64 hex");
    expectConfigFailure(oc(["serve", "--port", "0", "--data-dir", dataDir()], { OC_PRIVATE_KEY_FILE: join(work, "missing.key") }), "key file not found");
  });
});

describe("files are private", () => {
  test("database, WAL and key are created 0600; a key file readable by others is warned about at start", () => {
    const dir = dataDir();
    expect(oc(["init", "--data-dir", dir]).code).toBe(0);
    expect(oc(["users", "add", "bob", "--data-dir", dir]).code).toBe(0);
    for (const f of ["gateway.sqlite", "gateway.key"]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    chmodSync(join(dir, "gateway.key"), 0o644);
    const r = oc(["users", "list", "--data-dir", dir]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("readable by others (mode 0644): run chmod 600");
  });
  test("an older 0644 database and its WAL are tightened at open", () => {
    const dir = dataDir();
    expect(oc(["init", "--data-dir", dir]).code).toBe(0);
    chmodSync(join(dir, "gateway.sqlite"), 0o644);
    expect(oc(["users", "add", "carol", "--data-dir", dir]).code).toBe(0);
    expect(statSync(join(dir, "gateway.sqlite")).mode & 0o777).toBe(0o600);
  });
});
