// Issue 6: /transfer/webhook (proofs sent to us) and /transfer/create (peers moving money out of their account).
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbDigestOf } from "../helpers/inspect";
import { TestPeer } from "../peers/kit";

let tg: PortTestGateway;
let issuer: TestPeer; // 101: accepted issuer
let stranger: TestPeer; // 150: resolvable but not accepted
let partner: TestPeer; // 160: holds an account at our gateway

beforeAll(async () => {
  tg = await startPortTestGateway({ acceptIssuers: [101], rateLimits: NO_RATE_LIMITS });
  issuer = await TestPeer.start({ ocid: 101 });
  stranger = await TestPeer.start({ ocid: 150 });
  partner = await TestPeer.start({ ocid: 160 });
  for (const p of [issuer, stranger, partner]) {
    p.trustGateway(200, tg.gw.key.publicKeyHex);
    await tg.gw.directory.add(p.ocid, p.endpoint);
  }
  partner.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json.proof.txid } }));
});
afterAll(async () => {
  for (const p of [issuer, stranger, partner]) await p.stop();
  await tg.close();
});
afterEach(() => assertPortLedgerBalanced(tg));

const webhook = (from: TestPeer, body: unknown) => from.call(tg.url, "POST", "/opencharge/transfer/webhook", body);

test("a credit to one of our users is applied once, however often the proof arrives", async () => {
  const { user, token } = await seedUser(tg, "alice");
  const p = issuer.issueProof({ to: { ocid: 200, reference: `user_${user.id}` }, amount: "12.50", currency: "USD" });
  const r1 = await webhook(issuer, p);
  expect(r1.status).toBe(200);
  expect(r1.json).toEqual({ status: "accepted", txid: p.proof.txid });
  expect(r1.responseSignatureValid).toBe(true);
  const r2 = await webhook(issuer, p);
  expect(r2.text).toBe(r1.text);
  const r3 = await Promise.all(Array.from({ length: 10 }, () => webhook(issuer, p)));
  expect(r3.every((r) => r.status === 200 && r.json.status === "accepted")).toBe(true);
  expect((await portBalance(tg, `user:${user.id}`))).toBe(1250n);
  const h = await app(tg, token, "GET", "/app/history");
  expect(h.json.items[0]).toMatchObject({ kind: "credit", amount: "12.50", currency: "USD", issuer: 101, txid: p.proof.txid });
});

test("unknown reference and unsupported currency are replied `rejected`, nothing credited", async () => {
  const before = (await portBalance(tg, "external:101"));
  const unknown = issuer.issueProof({ to: { ocid: 200, reference: "user_nobody" }, amount: "1.00", currency: "USD" });
  expect((await webhook(issuer, unknown)).json).toEqual({ status: "rejected", txid: unknown.proof.txid, message: "unknown reference" });
  const { user } = await seedUser(tg, "bob");
  const jpy = issuer.issueProof({ to: { ocid: 200, reference: `user_${user.id}` }, amount: "100", currency: "JPY" });
  expect((await webhook(issuer, jpy)).json.status).toBe("rejected");
  expect((await portBalance(tg, "external:101"))).toBe(before);
});

test("proof checks: issuer ≠ sender, bad signature, future timestamp, structure, issuer not accepted — each changes nothing", async () => {
  const { user } = await seedUser(tg, "carol");
  const to = { ocid: 200, reference: `user_${user.id}` };
  const cases: [TestPeer, unknown, number, string, string?][] = [
    [stranger, issuer.issueProof({ to, amount: "1.00", currency: "USD" }), 400, "INVALID_PROOF", "issuer_mismatch"],
    [issuer, { ...issuer.issueProof({ to, amount: "1.00", currency: "USD" }), signature: stranger.signProof({ x: 1 }) }, 400, "PROOF_SIGNATURE_INVALID"],
    [issuer, issuer.issueProof({ to, amount: "1.00", currency: "USD", timestamp: Math.floor(Date.now() / 1000) + 400 }), 400, "INVALID_PROOF", "future_timestamp"],
    [issuer, issuer.issueProof({ to: { reference: "x" } as any, amount: "1.00", currency: "USD" }), 400, "INVALID_PROOF", "structure"],
    [issuer, issuer.issueProof({ to, amount: "1.00", currency: "USD", from: 7 as any }), 400, "INVALID_PROOF", "structure"],
    [stranger, stranger.issueProof({ to, amount: "1.00", currency: "USD" }), 400, "ISSUER_NOT_ACCEPTED"],
    [issuer, { proof: "nope" }, 400, "INVALID_REQUEST"],
  ];
  for (const [from, body, status, code, reason] of cases) {
    const before = (await dbDigestOf(tg));
    const r = await webhook(from, body);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    if (reason) expect(r.json.error.details.reason).toBe(reason);
    expect((await dbDigestOf(tg))).toBe(before);
  }
  // Signed over the replacer form, the proof's `to` is unsigned: a forged recipient must not be credited elsewhere.
  const real = issuer.issueProof({ to: { ocid: 999, reference: "elsewhere" }, amount: "5.00", currency: "USD" }, "replacer");
  const forged = { proof: { ...real.proof, to }, signature: real.signature };
  const r = await webhook(stranger, forged);
  expect(r.status).toBe(400); // the request signer is not the issuer
  expect((await portBalance(tg, `user:${user.id}`))).toBe(0n);
});

test("a notification that matches none of our settlements is rejected", async () => {
  const p = issuer.issueProof({ to: { ocid: 500, reference: "ord_unknown" }, amount: "25.00", currency: "USD" });
  expect((await webhook(issuer, p)).json).toEqual({ status: "rejected", txid: p.proof.txid, message: "no matching transfer" });
});

test("/transfer/create: a partner pays one of our users from its account; idempotent; errors per SPEC", async () => {
  const { user } = await seedUser(tg, "dave");
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:160", currency: "USD", amount: 5000n, reason: "funding", now: 1 }));
  const body = { from: { ocid: 160, reference: "p-1" }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "20.00", currency: "USD", memo: "refund" };
  const call = (b: unknown, key = "k-1") => partner.call(tg.url, "POST", "/opencharge/transfer/create", b, { headers: { "Idempotency-Key": key } });
  const r1 = await call(body);
  expect(r1.status).toBe(200);
  expect(r1.json.proof).toMatchObject({ issuer: 200, from: { ocid: 160, reference: "p-1" }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "20.00", currency: "USD", memo: "refund" });
  expect(partner.verifyProof(r1.json.proof, r1.json.signature, tg.gw.key.publicKeyHex)).toBe("deep");
  const again = await Promise.all(Array.from({ length: 5 }, () => call(body)));
  for (const r of again) expect(r.text).toBe(r1.text);
  expect((await portBalance(tg, `user:${user.id}`))).toBe(2000n);
  expect((await portBalance(tg, "peer:160"))).toBe(3000n);
  const reused = await call({ ...body, amount: "1.00" });
  expect(reused.status).toBe(409);
  expect(reused.json.error).toMatchObject({ code: "INVALID_STATE", details: { reason: "idempotency_key_reused" } });
  const short = await call({ ...body, amount: "999.00" }, "k-2");
  expect(short.status).toBe(402);
  expect((await call({ ...body, from: { ocid: 101 } }, "k-3")).json.error.code).toBe("UNAUTHORIZED");
  expect((await call({ ...body, currency: "EUR" }, "k-4")).json.error).toMatchObject({ code: "ACCOUNT_NOT_FOUND", details: { field: "from" } });
  expect((await call({ ...body, to: { ocid: 200, reference: "user_zzz" } }, "k-5")).json.error).toMatchObject({ code: "ACCOUNT_NOT_FOUND", details: { field: "to" } });
  expect((await call({ ...body, to: { ocid: 4242 } }, "k-6")).json.error).toMatchObject({ code: "ACCOUNT_NOT_FOUND", details: { field: "to" } });
  expect((await call({ ...body, amount: "1.001" }, "k-7")).json.error.code).toBe("INVALID_AMOUNT");
  expect((await portBalance(tg, "peer:160"))).toBe(3000n);
});

test("/transfer/create to another peer: our proof is delivered to the recipient's webhook", async () => {
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:101", currency: "USD", amount: 1000n, reason: "funding", now: 1 }));
  const r = await issuer.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 101 }, to: { ocid: 160 }, amount: "4.00", currency: "USD", order: { id: "o-77" } });
  expect(r.status).toBe(200);
  expect(r.json.proof.to).toEqual({ ocid: 160, reference: "o-77" });
  const got = await partner.waitForRequest((q) => q.path === "/opencharge/transfer/webhook" && q.json?.proof?.txid === r.json.proof.txid);
  expect(got.authentic).toBe(true);
  expect(new TextDecoder().decode(got.rawBody)).toBe(JSON.stringify({ proof: r.json.proof, signature: r.json.signature }));
  expect((await portBalance(tg, "peer:160"))).toBeGreaterThanOrEqual(400n);
});
