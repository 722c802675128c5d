// Issue 15: `oc keys rotate`. After it the gateway signs with the new key; its metadata (signed by the new key)
// publishes the old one as previousKey with keyRotatedAt for keyRotationGrace, so a peer checking a proof we
// issued before the rotation — with the independent peer kit, against the keys we publish — succeeds during
// the grace period and not after.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeTestDataDir, startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";
import { cliWhere } from "../helpers/admin";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { runCli, EXIT } from "../../src/cli/run";
import { TestPeer } from "../peers/kit";

const work = mkdtempSync(join(tmpdir(), "oc-rotate-"));
const dataDir = join(work, "data");
const GRACE = 3600;
let merchant: TestPeer;
const proofs: { proof: any; signature: string }[] = [];
beforeAll(async () => {
  merchant = await TestPeer.start({ ocid: 500, name: "Merchant 500" });
  // The merchant keeps every proof it is sent; it judges them later with keys it reads from our metadata.
  merchant.route("POST", "/transfer/webhook", (req) => {
    proofs.push(req.json);
    return { body: { status: "accepted", txid: req.json?.proof?.txid } };
  });
});
afterAll(async () => {
  await merchant.stop();
  await removeTestDataDir(dataDir);
  rmSync(work, { recursive: true, force: true });
});

const quiet = () => {
  const lines: string[] = [];
  return { lines, out: { log: (s: string) => lines.push(s), err: (s: string) => lines.push(s) } };
};

async function gateway(clockOffset = 0): Promise<PortTestGateway> {
  const now = () => Math.floor(Date.now() / 1000) + clockOffset;
  const tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, keyRotationGrace: GRACE }, { dataDir, clock: now });
  await tg.gw.directory.add(500, merchant.endpoint);
  return tg;
}

async function payOnce(tg: PortTestGateway, token: string): Promise<{ proof: any; signature: string }> {
  merchant.trustGateway(200, tg.gw.key.publicKeyHex); // the merchant authenticates our requests with today's key
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = orderFor(merchant, tg, { amount: "1.00" });
  expect((await submitOrder(merchant, tg, s.sessionId, order)).status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {})).status).toBe(200);
  const end = Date.now() + 8000;
  while (!proofs.some((p) => p.proof.to.reference === order.id)) {
    if (Date.now() > end) throw new Error("no proof delivered");
    await Bun.sleep(20);
  }
  return proofs.find((p) => p.proof.to.reference === order.id)!;
}

/** What a peer does: fetch our metadata, check its signature, and try a proof against every key it publishes. */
async function peerCheck(tg: PortTestGateway, p: { proof: any; signature: string }) {
  const doc = await (await fetch(`${tg.url}/opencharge/metadata.json`)).json();
  expect(merchant.verifyProof(doc.config, doc.signature, doc.config.publicKey)).toBe("deep");
  const keys = [doc.config.publicKey, doc.config.previousKey].filter((k): k is string => typeof k === "string");
  return { doc, verifiedBy: keys.find((k) => merchant.verifyProof(p.proof, p.signature, k) === "deep") ?? null };
}

test("a proof issued before keys rotate verifies against the published previousKey during the grace period, not after", async () => {
  let tg = await gateway();
  const { token } = await seedUser(tg, "rita", "USD:20.00");
  const oldKey = tg.gw.key.publicKeyHex;
  const before = await payOnce(tg, token);
  expect((await peerCheck(tg, before)).verifiedBy).toBe(oldKey);

  // Refused while serving; works on the stopped data dir.
  const busy = quiet();
  expect(await runCli(["keys", "rotate", ...cliWhere(tg)], busy.out)).toBe(EXIT.locked);
  expect(busy.lines.join("\n")).toContain("stop it, run keys rotate");
  await tg.close();
  const rot = quiet();
  const rotatedAt = Math.floor(Date.now() / 1000);
  expect(await runCli(["keys", "rotate", ...cliWhere(tg)], rot.out)).toBe(EXIT.ok);
  expect(statSync(join(dataDir, "gateway.key")).mode & 0o777).toBe(0o600);
  expect(rot.lines.join("\n")).not.toContain(Buffer.from(tg.gw.key.secret).toString("hex"));

  // During the grace period: new key signs everything; the old one is published as previousKey.
  tg = await gateway();
  const newKey = tg.gw.key.publicKeyHex;
  expect(newKey).not.toBe(oldKey);
  const during = await peerCheck(tg, before);
  expect(during.doc.config.publicKey).toBe(newKey);
  expect(during.doc.config.previousKey).toBe(oldKey);
  expect(Math.abs(during.doc.config.keyRotatedAt - rotatedAt)).toBeLessThanOrEqual(2);
  expect(during.verifiedBy).toBe(oldKey);
  const after = await payOnce(tg, token);
  expect((await peerCheck(tg, after)).verifiedBy).toBe(newKey);
  expect(merchant.verifyProof(after.proof, after.signature, oldKey)).toBeNull();
  await tg.close();

  // After the grace period the previous key is gone from the metadata: the old proof no longer checks out.
  tg = await gateway(GRACE + 5);
  const late = await peerCheck(tg, before);
  expect(late.doc.config.previousKey).toBeUndefined();
  expect(late.doc.config.keyRotatedAt).toBeUndefined();
  expect(late.verifiedBy).toBeNull();
  expect((await peerCheck(tg, after)).verifiedBy).toBe(newKey);
  await tg.close();
}, 60_000);
