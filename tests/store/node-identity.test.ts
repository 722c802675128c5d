// Issue 18: every node on one PostgreSQL database is one gateway, so it signs with one key under one OCID. The first
// start records both in the database; a node that starts (or runs a CLI command) with another key or OCID is
// refused with a ConfigError that says what to do, and never serves. Nodes given the same key file (privateKeyFile)
// start side by side. Control: the same two differing nodes on two separate databases both start (nothing to guard).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type ConfigInput } from "../../src/config";
import { openPortGateway, startGateway, type RunningGateway } from "../../src/start";
import { generatePrivateKeyHex } from "../../src/protocol/keys";
import { runCli, EXIT } from "../../src/cli/run";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";
import { rejectionOf } from "../helpers/settled";

const work = mkdtempSync(join(tmpdir(), "oc-identity-"));
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
  rmSync(work, { recursive: true, force: true });
});

let dirs = 0;
function node(databaseUrl: string, extra: ConfigInput = {}) {
  const dataDir = join(work, `node${++dirs}`);
  return loadConfig({
    env: {},
    overrides: { dataDir, databaseUrl, host: "127.0.0.1", port: 0, logLevel: "error", ...extra },
  });
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    (v) => v,
    (e) => e,
  );
  if (!(r instanceof Error)) throw new Error("expected a refusal, the node started");
  return r;
}

describe.skipIf(!postgresAvailable("node-identity.test.ts"))("one identity per database", () => {
  test("a node with another key or OCID is refused; nodes sharing the key file serve together", async () => {
    const db = await freshDatabase("identity");
    dbs.push(db);
    const keyFile = join(work, "shared.key");
    writeFileSync(keyFile, generatePrivateKeyHex() + "\n", { mode: 0o600 });
    const running: RunningGateway[] = [];
    try {
      running.push(await startGateway({ config: node(db.url, { privateKeyFile: keyFile }) }));
      running.push(await startGateway({ config: node(db.url, { privateKeyFile: keyFile }) }));
      expect(running[1]!.gw.key.publicKeyHex).toBe(running[0]!.gw.key.publicKeyHex);

      // Its own generated key (its own data dir): refused, says what to do, never echoes a secret.
      const otherKey = await refusal(startGateway({ config: node(db.url) }));
      expect(otherKey).toBeInstanceOf(ConfigError);
      expect(otherKey.message).toContain("every node must sign with the same key");
      expect(otherKey.message).toContain("OC_PRIVATE_KEY_FILE");
      const otherOcid = await refusal(startGateway({ config: node(db.url, { privateKeyFile: keyFile, ocid: 201 }) }));
      expect(otherOcid.message).toContain("OCID 200");
      // The CLI binds the same way (its commands open the gateway through the port).
      expect(await rejectionOf(openPortGateway({ config: node(db.url) }))).toBeInstanceOf(ConfigError);
      const lines: string[] = [];
      const out = { log: (s: string) => lines.push(s), err: (s: string) => lines.push(s) };
      const cfg = join(work, "cli.json");
      writeFileSync(cfg, JSON.stringify({ databaseUrl: db.url }), { mode: 0o600 });
      const code = await runCli(["users", "list", "--data-dir", join(work, "stranger"), "--config", cfg], out);
      expect(code).toBe(EXIT.config);
      expect(lines.join("\n")).toContain("same key");
    } finally {
      for (const r of running) await r.stop();
    }
  });

  test("control: two different keys on two databases both start (the guard is the database's record)", async () => {
    const a = await freshDatabase("identity_a");
    const b = await freshDatabase("identity_b");
    dbs.push(a, b);
    const one = await startGateway({ config: node(a.url) });
    const two = await startGateway({ config: node(b.url) });
    expect(one.gw.key.publicKeyHex).not.toBe(two.gw.key.publicKeyHex);
    await one.stop();
    await two.stop();
  });
});
