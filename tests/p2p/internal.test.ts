// Issue 17 step 1–2: money between two users of the same gateway (POST /app/transfer), and end-user OCIDs given by
// the operator's CLI (users set-ocid) and published at /opencharge/users/<ocid>/metadata.json.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { runCli } from "../../src/cli/run";
import { startTestGateway, NO_RATE_LIMITS, type TestGateway } from "../helpers/gateway";
import { addUser, app, assertLedgerBalanced, balance, dbDigest, WsClient } from "../helpers/wallet";
import { verifyStringKit, canonDeepKit } from "../peers/kit";
import * as S from "../../src/app/schemas";
import { expectConforms } from "../helpers/schema-check";

let tg: TestGateway;
const key = () => "k-" + Math.random().toString(36).slice(2);
beforeAll(async () => {
  tg = await startTestGateway({ ocid: 300, rateLimits: NO_RATE_LIMITS });
});
afterAll(() => tg.close());

async function cli(...args: string[]) {
  const out: string[] = [];
  const io = { log: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  const code = await runCli([...args, "--data-dir", tg.dataDir, "--ocid", "300"], io);
  return { code, out: out.join("\n") };
}

test("a send by handle: one ledger pair, our proof as receipt, both histories, a live credit_received", async () => {
  const alice = addUser(tg, "alice", "USD:50.00");
  const bob = addUser(tg, "bob");
  const ws = await WsClient.open(tg, { token: bob.token });
  const r = await app(tg, alice.token, "POST", "/app/transfer", { to: "bob", amount: "12.3", currency: "USD", memo: "lunch", idempotencyKey: key() });
  expect(r.status).toBe(200);
  expect(r.json.status).toBe("paid");
  expect(r.json.txid).toMatch(/^tx_[0-9a-f]{32}$/);
  expectConforms(S.TransferResponse, r.json, "POST /app/transfer");
  expect(balance(tg, `user:${alice.user.id}`)).toBe(3770n);
  expect(balance(tg, `user:${bob.user.id}`)).toBe(1230n);
  const pair = tg.gw.db.query<{ account: string; delta: number }, []>("SELECT account, delta FROM ledger_entries WHERE reason = 'p2p_transfer' ORDER BY delta").all();
  expect(pair).toEqual([
    { account: `user:${alice.user.id}`, delta: -1230 },
    { account: `user:${bob.user.id}`, delta: 1230 },
  ]);
  const pushed = await ws.next((m) => m.type === "credit_received");
  expectConforms(S.WsServerMessage, pushed, "credit_received");
  expect(pushed).toMatchObject({ kind: "transfer", amount: "12.30", currency: "USD", memo: "lunch", txid: r.json.txid, from: { name: "alice", userId: alice.user.id } });
  // The receipt is a proof we issued and signed (deep form), recorded like every proof of ours.
  const issued = tg.gw.db.query<{ proof_json: string; signature: string }, [string]>("SELECT proof_json, signature FROM issued_proofs WHERE txid = ?").get(r.json.txid)!;
  expect(verifyStringKit(canonDeepKit(JSON.parse(issued.proof_json)), issued.signature, tg.gw.key.publicKeyHex)).toBe(true);
  const ha = await app(tg, alice.token, "GET", "/app/history");
  expect(ha.json.items[0]).toMatchObject({ kind: "sent", amount: "12.30", status: "paid", to: { name: "bob", userId: bob.user.id }, memo: "lunch" });
  expectConforms(S.HistoryPage, ha.json, "GET /app/history (sender)");
  const hb = await app(tg, bob.token, "GET", "/app/history");
  expectConforms(S.HistoryPage, hb.json, "GET /app/history (recipient)");
  expect(hb.json.items[0]).toMatchObject({ kind: "received", amount: "12.30", status: "paid", from: { name: "alice" } });
  ws.close();
  assertLedgerBalanced(tg);
});

test("by user_<id> and by @handle; bad input gets the protocol's error JSON and moves nothing", async () => {
  const a = addUser(tg, "carol", "USD:5.00");
  const b = addUser(tg, "dave");
  expect((await app(tg, a.token, "POST", "/app/transfer", { to: `user_${b.user.id}`, amount: "1.00", currency: "USD", idempotencyKey: key() })).json.status).toBe("paid");
  expect((await app(tg, a.token, "POST", "/app/transfer", { to: "@dave", amount: "1.00", currency: "USD", idempotencyKey: key() })).json.status).toBe("paid");
  const before = dbDigest(tg.gw.db);
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
  expect(dbDigest(tg.gw.db)).toBe(before);
});

test("the same idempotency key never pays twice, even when sent concurrently; reused with another body it is 409", async () => {
  const a = addUser(tg, "erin", "USD:10.00");
  const b = addUser(tg, "frank");
  const k = key();
  const body = { to: "frank", amount: "2.50", currency: "USD", idempotencyKey: k };
  const rs = await Promise.all(Array.from({ length: 12 }, () => app(tg, a.token, "POST", "/app/transfer", body)));
  expect(new Set(rs.map((r) => r.status))).toEqual(new Set([200]));
  expect(new Set(rs.map((r) => r.json.txid)).size).toBe(1);
  expect(balance(tg, `user:${b.user.id}`)).toBe(250n);
  const again = await app(tg, a.token, "POST", "/app/transfer", { ...body, amount: "3.00" });
  expect([again.status, again.json.error.code, again.json.error.details.reason]).toEqual([409, "INVALID_STATE", "idempotency_key_reused"]);
  // Keys are the sender's own: another user may use the same key.
  const c = addUser(tg, "gina", "USD:1.00");
  expect((await app(tg, c.token, "POST", "/app/transfer", { ...body, amount: "1.00" })).json.status).toBe("paid");
  assertLedgerBalanced(tg);
});

test("concurrent sends exceeding the balance: exactly the funded ones go through", async () => {
  const a = addUser(tg, "hank", "USD:10.00");
  const b = addUser(tg, "ivy");
  const rs = await Promise.all(Array.from({ length: 25 }, () => app(tg, a.token, "POST", "/app/transfer", { to: "ivy", amount: "1.00", currency: "USD", idempotencyKey: key() })));
  expect(rs.filter((r) => r.status === 200 && r.json.status === "paid").length).toBe(10);
  expect(rs.filter((r) => r.status === 402 && r.json.error.code === "INSUFFICIENT_FUNDS").length).toBe(15);
  expect(balance(tg, `user:${a.user.id}`)).toBe(0n);
  expect(balance(tg, `user:${b.user.id}`)).toBe(1000n);
  assertLedgerBalanced(tg);
});

test("users set-ocid: the OCID is published naming this gateway, resolves locally, and receives transfers", async () => {
  const a = addUser(tg, "jane", "USD:5.00");
  const b = addUser(tg, "kim");
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
  expect(balance(tg, `user:${b.user.id}`)).toBe(250n);
  const me = await app(tg, b.token, "GET", "/app/me");
  expect(me.json.user.ocid).toBe(4242);
  const proof = JSON.parse(tg.gw.db.query<{ proof_json: string }, [string]>("SELECT proof_json FROM issued_proofs WHERE txid = ?").get(r.json.txid)!.proof_json);
  expect(proof.to).toEqual({ ocid: 4242, reference: `user_${b.user.id}` });
  assertLedgerBalanced(tg);
});

test("issue 16's limits and freeze apply to transfers: per payment, per day (transfers count), max balance, frozen", async () => {
  const a = addUser(tg, "lena", "USD:100.00");
  const b = addUser(tg, "mike");
  const now = tg.gw.clock();
  tg.gw.store.tx(() => {
    tg.gw.store.limits.set(a.user.id, "USD", "per_payment", 2000n, now);
    tg.gw.store.limits.set(a.user.id, "USD", "per_day", 3000n, now);
    tg.gw.store.limits.set(b.user.id, "USD", "max_balance", 2500n, now);
  });
  const go = (amount: string) => app(tg, a.token, "POST", "/app/transfer", { to: "mike", amount, currency: "USD", idempotencyKey: key() });
  const over = await go("20.01");
  expect([over.status, over.json.error.code, over.json.error.details.limit]).toEqual([422, "LIMIT_EXCEEDED", "per_payment"]);
  expect((await go("20.00")).json.status).toBe("paid");
  const day = await go("10.01"); // 20.00 already sent today
  expect([day.status, day.json.error.details.limit]).toEqual([422, "per_day"]);
  tg.gw.store.tx(() => tg.gw.store.limits.set(a.user.id, "USD", "per_day", null, now));
  const full = await go("5.01"); // mike would hold 25.01
  expect([full.status, full.json.error.details.limit]).toEqual([422, "max_balance"]);
  expect((await go("5.00")).json.status).toBe("paid");
  tg.gw.store.tx(() => tg.gw.store.users.setFrozen(b.user.id, now));
  const frozen = await app(tg, a.token, "POST", "/app/transfer", { to: "mike", amount: "0.01", currency: "USD", idempotencyKey: key() });
  expect([frozen.status, frozen.json.error.code]).toEqual([403, "ACCOUNT_FROZEN"]);
  const back = await app(tg, b.token, "POST", "/app/transfer", { to: "lena", amount: "0.01", currency: "USD", idempotencyKey: key() });
  expect([back.status, back.json.error.code]).toEqual([403, "ACCOUNT_FROZEN"]);
  expect(balance(tg, `user:${b.user.id}`)).toBe(2500n);
  expect(balance(tg, `user:${a.user.id}`)).toBe(7500n);
  assertLedgerBalanced(tg);
});
