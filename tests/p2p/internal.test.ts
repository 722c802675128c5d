// Issue 17 step 1–2: money between two users of the same gateway (POST /app/transfer), and end-user OCIDs given by
// the operator's CLI (users set-ocid) and published at /opencharge/users/<ocid>/metadata.json.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { runCli } from "../../src/cli/run";
import { cliWhere } from "../helpers/admin";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance, WsClient } from "../helpers/wallet";
import { dbRow, dbRows, dbDigestOf } from "../helpers/inspect";
import { verifyStringKit, canonDeepKit } from "../peers/kit";
import * as S from "../../src/app/schemas";
import { expectConforms } from "../helpers/schema-check";

let tg: PortTestGateway;
const key = () => "k-" + Math.random().toString(36).slice(2);
beforeAll(async () => {
  tg = await startPortTestGateway({ ocid: 300, rateLimits: NO_RATE_LIMITS });
});
afterAll(() => tg.close());

async function cli(...args: string[]) {
  const out: string[] = [];
  const io = { log: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  const code = await runCli([...args, ...cliWhere(tg), "--ocid", "300"], io);
  return { code, out: out.join("\n") };
}

test("a send by handle: one ledger pair, our proof as receipt, both histories, a live credit_received", async () => {
  const alice = await seedUser(tg, "alice", "USD:50.00");
  const bob = await seedUser(tg, "bob");
  const ws = await WsClient.open(tg, { token: bob.token });
  const r = await app(tg, alice.token, "POST", "/app/transfer", { to: "bob", amount: "12.3", currency: "USD", memo: "lunch", idempotencyKey: key() });
  expect(r.status).toBe(200);
  expect(r.json.status).toBe("paid");
  expect(r.json.txid).toMatch(/^tx_[0-9a-f]{32}$/);
  expectConforms(S.TransferResponse, r.json, "POST /app/transfer");
  expect((await portBalance(tg, `user:${alice.user.id}`))).toBe(3770n);
  expect((await portBalance(tg, `user:${bob.user.id}`))).toBe(1230n);
  const pair = (await dbRows<{ account: string; delta: number }>(tg, "SELECT account, delta FROM ledger_entries WHERE reason = 'p2p_transfer' ORDER BY delta"));
  expect(pair).toEqual([
    { account: `user:${alice.user.id}`, delta: -1230 },
    { account: `user:${bob.user.id}`, delta: 1230 },
  ]);
  const pushed = await ws.next((m) => m.type === "credit_received");
  expectConforms(S.WsServerMessage, pushed, "credit_received");
  expect(pushed).toMatchObject({ kind: "transfer", amount: "12.30", currency: "USD", memo: "lunch", txid: r.json.txid, from: { name: "alice", userId: alice.user.id } });
  // The receipt is a proof we issued and signed (deep form), recorded like every proof of ours.
  const issued = (await dbRow<{ proof_json: string; signature: string }>(tg, "SELECT proof_json, signature FROM issued_proofs WHERE txid = ?", r.json.txid))!;
  expect(verifyStringKit(canonDeepKit(JSON.parse(issued.proof_json)), issued.signature, tg.gw.key.publicKeyHex)).toBe(true);
  const ha = await app(tg, alice.token, "GET", "/app/history");
  expect(ha.json.items[0]).toMatchObject({ kind: "sent", amount: "12.30", status: "paid", to: { name: "bob", userId: bob.user.id }, memo: "lunch" });
  expectConforms(S.HistoryPage, ha.json, "GET /app/history (sender)");
  const hb = await app(tg, bob.token, "GET", "/app/history");
  expectConforms(S.HistoryPage, hb.json, "GET /app/history (recipient)");
  expect(hb.json.items[0]).toMatchObject({ kind: "received", amount: "12.30", status: "paid", from: { name: "alice" } });
  ws.close();
  await assertPortLedgerBalanced(tg);
});

test("by user_<id> and by @handle; bad input gets the protocol's error JSON and moves nothing", async () => {
  const a = await seedUser(tg, "carol", "USD:5.00");
  const b = await seedUser(tg, "dave");
  expect((await app(tg, a.token, "POST", "/app/transfer", { to: `user_${b.user.id}`, amount: "1.00", currency: "USD", idempotencyKey: key() })).json.status).toBe("paid");
  expect((await app(tg, a.token, "POST", "/app/transfer", { to: "@dave", amount: "1.00", currency: "USD", idempotencyKey: key() })).json.status).toBe("paid");
  const before = (await dbDigestOf(tg));
  const bad: [unknown, number, string][] = [
    [{ to: "dave", amount: "9.00", currency: "USD", idempotencyKey: key() }, 402, "INSUFFICIENT_FUNDS"],
    [{ to: "nobody-here", amount: "1.00", currency: "USD", idempotencyKey: key() }, 400, "ACCOUNT_NOT_FOUND"],
    [{ to: "user_ffffffffff", amount: "1.00", currency: "USD", idempotencyKey: key() }, 400, "ACCOUNT_NOT_FOUND"],
    [{ to: 300, amount: "1.00", currency: "USD", idempotencyKey: key() }, 400, "ACCOUNT_NOT_FOUND"],
    [{ to: 987654, amount: "1.00", currency: "USD", idempotencyKey: key() }, 400, "ACCOUNT_NOT_FOUND"],
    [{ to: "dave", amount: "1.001", currency: "USD", idempotencyKey: key() }, 400, "INVALID_AMOUNT"],
    [{ to: "dave", amount: "0", currency: "USD", idempotencyKey: key() }, 400, "INVALID_AMOUNT"],
    [{ to: "dave", amount: "-1", currency: "USD", idempotencyKey: key() }, 400, "INVALID_AMOUNT"],
    [{ to: "dave", amount: 1, currency: "USD", idempotencyKey: key() }, 400, "INVALID_REQUEST"],
    [{ to: "dave", amount: "1.00", currency: "XYZ", idempotencyKey: key() }, 400, "SETTLEMENT_NOT_SUPPORTED"],
    [{ to: "dave", amount: "1.00", currency: "USD" }, 400, "INVALID_REQUEST"],
    [{ to: "dave", amount: "1.00", currency: "USD", idempotencyKey: "bad key!" }, 400, "INVALID_REQUEST"],
    [{ to: "carol", amount: "1.00", currency: "USD", idempotencyKey: key() }, 400, "INVALID_REQUEST"],
  ];
  for (const [body, status, code] of bad) {
    const r = await app(tg, a.token, "POST", "/app/transfer", body);
    expect([r.status, r.json?.error?.code, JSON.stringify(body)]).toEqual([status, code, JSON.stringify(body)]);
    expect(r.json.error.message.length).toBeGreaterThan(3);
  }
  expect((await app(tg, null, "POST", "/app/transfer", { to: "dave", amount: "1.00", currency: "USD", idempotencyKey: key() })).status).toBe(401);
  expect((await dbDigestOf(tg))).toBe(before);
});

test("the same idempotency key never pays twice, even when sent concurrently; reused with another body it is 409", async () => {
  const a = await seedUser(tg, "erin", "USD:10.00");
  const b = await seedUser(tg, "frank");
  const k = key();
  const body = { to: "frank", amount: "2.50", currency: "USD", idempotencyKey: k };
  const rs = await Promise.all(Array.from({ length: 12 }, () => app(tg, a.token, "POST", "/app/transfer", body)));
  expect(new Set(rs.map((r) => r.status))).toEqual(new Set([200]));
  expect(new Set(rs.map((r) => r.json.txid)).size).toBe(1);
  expect((await portBalance(tg, `user:${b.user.id}`))).toBe(250n);
  const again = await app(tg, a.token, "POST", "/app/transfer", { ...body, amount: "3.00" });
  expect([again.status, again.json.error.code, again.json.error.details.reason]).toEqual([409, "INVALID_STATE", "idempotency_key_reused"]);
  // Keys are the sender's own: another user may use the same key.
  const c = await seedUser(tg, "gina", "USD:1.00");
  expect((await app(tg, c.token, "POST", "/app/transfer", { ...body, amount: "1.00" })).json.status).toBe("paid");
  await assertPortLedgerBalanced(tg);
});

test("concurrent sends exceeding the balance: exactly the funded ones go through", async () => {
  const a = await seedUser(tg, "hank", "USD:10.00");
  const b = await seedUser(tg, "ivy");
  const rs = await Promise.all(Array.from({ length: 25 }, () => app(tg, a.token, "POST", "/app/transfer", { to: "ivy", amount: "1.00", currency: "USD", idempotencyKey: key() })));
  expect(rs.filter((r) => r.status === 200 && r.json.status === "paid").length).toBe(10);
  expect(rs.filter((r) => r.status === 402 && r.json.error.code === "INSUFFICIENT_FUNDS").length).toBe(15);
  expect((await portBalance(tg, `user:${a.user.id}`))).toBe(0n);
  expect((await portBalance(tg, `user:${b.user.id}`))).toBe(1000n);
  await assertPortLedgerBalanced(tg);
});

test("users set-ocid: the OCID is published naming this gateway, resolves locally, and receives transfers", async () => {
  const a = await seedUser(tg, "jane", "USD:5.00");
  const b = await seedUser(tg, "kim");
  const set = await cli("users", "set-ocid", "kim", "4242");
  expect(set.code).toBe(0);
  expect(set.out).toContain("/opencharge/users/4242/metadata.json");
  expect((await cli("users", "set-ocid", "jane", "4242")).code).toBe(1); // one OCID, one person
  expect((await cli("users", "set-ocid", "jane", "300")).code).toBe(1); // never the gateway's own
  expect((await cli("users", "list")).out).toContain("ocid 4242");

  const doc = await (await fetch(`${tg.url}/opencharge/users/4242/metadata.json`)).json();
  expectConforms(S.UserMetadataDocument, doc, "GET /opencharge/users/:ocid/metadata.json");
  expect(doc).toMatchObject({ opencharge: "0.1", name: "kim", gateway: 300, config: { publicKey: tg.gw.key.publicKeyHex, endpoint: tg.gw.config.endpoint } });
  expect(verifyStringKit(canonDeepKit(doc.config), doc.signature, tg.gw.key.publicKeyHex)).toBe(true);
  expect((await fetch(`${tg.url}/opencharge/users/4243/metadata.json`)).status).toBe(404);
  expect((await tg.gw.directory.resolve(4242)).gateway).toBe(300);

  const r = await app(tg, a.token, "POST", "/app/transfer", { to: 4242, amount: "1.25", currency: "USD", idempotencyKey: key() });
  expect(r.json.status).toBe("paid");
  const r2 = await app(tg, a.token, "POST", "/app/transfer", { to: "4242", amount: "1.25", currency: "USD", idempotencyKey: key() });
  expect(r2.json.status).toBe("paid");
  expect((await portBalance(tg, `user:${b.user.id}`))).toBe(250n);
  const me = await app(tg, b.token, "GET", "/app/me");
  expect(me.json.user.ocid).toBe(4242);
  const proof = JSON.parse((await dbRow<{ proof_json: string }>(tg, "SELECT proof_json FROM issued_proofs WHERE txid = ?", r.json.txid))!.proof_json);
  expect(proof.to).toEqual({ ocid: 4242, reference: `user_${b.user.id}` });
  await assertPortLedgerBalanced(tg);
});

test("issue 16's limits and freeze apply to transfers: per payment, per day (transfers count), max balance, frozen", async () => {
  const a = await seedUser(tg, "lena", "USD:100.00");
  const b = await seedUser(tg, "mike");
  const now = tg.gw.clock();
  await tg.gw.store.transaction(async (tx) => {
    await tx.limits.set(a.user.id, "USD", "per_payment", 2000n, now);
    await tx.limits.set(a.user.id, "USD", "per_day", 3000n, now);
    await tx.limits.set(b.user.id, "USD", "max_balance", 2500n, now);
  });
  const go = (amount: string) => app(tg, a.token, "POST", "/app/transfer", { to: "mike", amount, currency: "USD", idempotencyKey: key() });
  const over = await go("20.01");
  expect([over.status, over.json.error.code, over.json.error.details.limit]).toEqual([422, "LIMIT_EXCEEDED", "per_payment"]);
  expect((await go("20.00")).json.status).toBe("paid");
  const day = await go("10.01"); // 20.00 already sent today
  expect([day.status, day.json.error.details.limit]).toEqual([422, "per_day"]);
  await tg.gw.store.transaction((tx) => tx.limits.set(a.user.id, "USD", "per_day", null, now));
  const full = await go("5.01"); // mike would hold 25.01
  expect([full.status, full.json.error.details.limit]).toEqual([422, "max_balance"]);
  expect((await go("5.00")).json.status).toBe("paid");
  await tg.gw.store.transaction((tx) => tx.users.setFrozen(b.user.id, now));
  const frozen = await app(tg, a.token, "POST", "/app/transfer", { to: "mike", amount: "0.01", currency: "USD", idempotencyKey: key() });
  expect([frozen.status, frozen.json.error.code]).toEqual([403, "ACCOUNT_FROZEN"]);
  const back = await app(tg, b.token, "POST", "/app/transfer", { to: "lena", amount: "0.01", currency: "USD", idempotencyKey: key() });
  expect([back.status, back.json.error.code]).toEqual([403, "ACCOUNT_FROZEN"]);
  expect((await portBalance(tg, `user:${b.user.id}`))).toBe(2500n);
  expect((await portBalance(tg, `user:${a.user.id}`))).toBe(7500n);
  await assertPortLedgerBalanced(tg);
});
