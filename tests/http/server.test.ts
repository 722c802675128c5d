import { afterAll, beforeAll, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { statSync } from "node:fs";
import { join } from "node:path";
import { startPortTestGateway, type PortTestGateway } from "../helpers/gateway";
import { MetadataDocument } from "../../src/protocol/schemas";
import { parsePublicKey } from "../../src/protocol/keys";
import { verifyObjectSignature } from "../../src/protocol/signed-objects";

let gw: PortTestGateway;
beforeAll(async () => {
  gw = await startPortTestGateway({ name: "Test Wallet", contact: "ops@wallet.test" });
});
afterAll(() => gw.close());

test("metadata.json validates against the schema and its config signature verifies with the published key", async () => {
  const res = await fetch(`${gw.url}/opencharge/metadata.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  const doc = await res.json();
  expect(TypeCompiler.Compile(MetadataDocument).Check(doc)).toBe(true);
  expect(doc.name).toBe("Test Wallet");
  expect(doc.contact).toBe("ops@wallet.test");
  expect(doc.profile).toBeUndefined();
  const key = parsePublicKey(doc.config.publicKey);
  if (!key.ok) throw new Error("bad key");
  expect(verifyObjectSignature(doc.config, doc.signature, key.point, false)).toBe("deep");
  expect(doc.config.publicKey).toBe(gw.gw.key.publicKeyHex);
  // a tampered config must not verify
  expect(verifyObjectSignature({ ...doc.config, endpoint: "https://evil.example/opencharge" }, doc.signature, key.point, true)).toBeNull();
});

test("the generated key file is private (0600) and the key never appears in logs", async () => {
  const mode = statSync(join(gw.dataDir, "gateway.key")).mode & 0o777;
  expect(mode).toBe(0o600);
  const secretHex = Buffer.from(gw.gw.key.secret).toString("hex");
  expect(gw.logs.join("\n")).not.toContain(secretHex);
});

test("unknown routes answer 404 protocol JSON, inside and outside the mount", async () => {
  for (const path of ["/opencharge/nope", "/nope", "/opencharge/metadata.json/x"]) {
    const res = await fetch(gw.url + path);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "Not found" } });
  }
  const res = await fetch(`${gw.url}/opencharge/metadata.json`, { method: "DELETE" });
  expect(res.status).toBe(404);
});
