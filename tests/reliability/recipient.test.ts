// Issue 23 item 9: the canonical request string names no recipient gateway, so a /transfer/create a peer signed
// for another gateway could be replayed to us inside the window. We execute only transfers whose recipient is
// ours: this gateway (one of our users) or a peer whose books we keep in that currency.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbDigestOf } from "../helpers/inspect";
import { TestPeer } from "../peers/kit";
import { fileDone, protocolShapeProblem, suiteSeed, tally } from "./support";

suiteSeed("recipient");

let tg: PortTestGateway;
let funder: TestPeer; // 501: holds accounts both here and at the other gateway
let other: TestPeer; // 250: another gateway, registered in our directory, no account here
let kept: TestPeer; // 160: a peer whose USD account we keep

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
  funder = await TestPeer.start({ ocid: 501, name: "Funder" });
  other = await TestPeer.start({ ocid: 250, name: "Other gateway" });
  kept = await TestPeer.start({ ocid: 160, name: "Merchant with books here" });
  for (const p of [funder, other, kept]) {
    p.trustGateway(200, tg.gw.key.publicKeyHex);
    await tg.gw.directory.add(p.ocid, p.endpoint);
  }
  const now = tg.gw.clock();
  await tg.gw.store.transaction(async (tx) => {
    await tx.ledger.move({ from: "funding", to: "peer:501", currency: "USD", amount: 10_000n, reason: "funding", now });
    await tx.ledger.move({ from: "funding", to: "peer:160", currency: "USD", amount: 1n, reason: "funding", now });
  });
  kept.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
});
afterAll(async () => {
  for (const p of [funder, other, kept]) await p.stop();
  await tg.close();
  fileDone(import.meta.path);
});

test("a /transfer/create signed for another gateway (paying that gateway's user), replayed to us, is refused and moves nothing", async () => {
  // What 501 sent to gateway 250: the same path, so the signature verifies here too.
  const body = JSON.stringify({ from: { ocid: 501 }, to: { ocid: 250, reference: "user_theirs" }, amount: "25.00", currency: "USD" });
  const headers = { ...funder.signedRequestHeaders("POST", "/opencharge/transfer/create", body), "content-type": "application/json" };
  const before = await dbDigestOf(tg, ["nonces", "metadata_cache", "peer_dialects", "sqlite_sequence", "scheduler_lease"]);
  const res = await fetch(tg.url + "/opencharge/transfer/create", { method: "POST", headers, body });
  const text = await res.text();
  tally.tried("recipient");
  tally.status("recipient", res.status);
  expect(protocolShapeProblem(res.status, text)).toBeNull();
  expect(res.status).toBe(400);
  expect(JSON.parse(text).error).toMatchObject({ code: "ACCOUNT_NOT_FOUND", details: { reason: "recipient_not_here", field: "to" } });
  expect(await dbDigestOf(tg, ["nonces", "metadata_cache", "peer_dialects", "sqlite_sequence", "scheduler_lease"])).toBe(before);
  expect((await portBalance(tg, "peer:501"))).toBe(10_000n);
  expect((await portBalance(tg, "peer:250"))).toBe(0n);
  // Another currency of a peer we keep USD books for is not ours either.
  const eur = await funder.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 501 }, to: { ocid: 160 }, amount: "1.00", currency: "EUR" });
  tally.tried("recipient");
  expect(eur.status).toBe(400);
});

test("recipients that are ours still work: one of our users, and a peer whose account we keep", async () => {
  const { user } = await seedUser(tg, "payee");
  const toUser = await funder.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 501 }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "1.00", currency: "USD" });
  expect(toUser.status).toBe(200);
  const toPeer = await funder.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 501 }, to: { ocid: 160 }, amount: "2.00", currency: "USD", order: { id: "o-1" } });
  expect(toPeer.status).toBe(200);
  expect((await portBalance(tg, `user:${user.id}`))).toBe(100n);
  expect((await portBalance(tg, "peer:160"))).toBe(201n);
  tally.tried("recipient", 2);
  await assertPortLedgerBalanced(tg);
});
