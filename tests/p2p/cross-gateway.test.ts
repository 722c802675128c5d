// Issue 17 step 3: money between people at two gateways. Both gateways are this gateway, each its own process with
// its own key and database, each in the other's directory (and each person's OCID in the sender's directory,
// pointing at the document the recipient's gateway publishes). A third "gateway" is a hostile TestPeer that
// answers with replayed, re-signed or mismatching proofs. After every test the books of both gateways reconcile
// to the cent: A's external:B and B's peer:A account move in opposite directions by the same amounts.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ProcessGateway, freePort } from "../helpers/gateway-process";
import { appAt, WsClient } from "../helpers/wallet";
import { TestPeer } from "../peers/kit";
import { testEngine, type PortTestGateway } from "../helpers/gateway";
import { dbBalance, dbRow, dbRows } from "../helpers/inspect";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";

const RESERVE = 5000n; // each gateway's prefunded account at the other: USD 50.00
let A: ProcessGateway;
let B: ProcessGateway;
let hostile: TestPeer;
/** On PostgreSQL (OC_TEST_ENGINE=postgres) each gateway process gets a fresh database of its own. */
let databases: TestDatabase[] = [];
let alice: { name: string; id: string; token: string };
let bob: { name: string; id: string; token: string };
const key = () => "k-" + Math.random().toString(36).slice(2);
const send = (g: ProcessGateway, token: string, body: Record<string, unknown>) => appAt(g.url, token, "POST", "/app/transfer", { currency: "USD", idempotencyKey: key(), ...body });
const ws = (g: ProcessGateway, token: string) => WsClient.open({ url: g.url } as PortTestGateway, { token });

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

const p2pRow = (g: ProcessGateway, txOrId: string) =>
  dbRow<{ status: string; state: string; attempts: number; pinned: number }>(g.where, "SELECT status, state, attempts, pinned FROM p2p_transfers WHERE id = ?", txOrId);
const pendingMinor = async (g: ProcessGateway) => {
  const q = "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS TEXT) AS s FROM p2p_transfers WHERE kind = 'outbound' AND status = 'pending'";
  return BigInt((await dbRow<{ s: string }>(g.where, q))!.s);
};
const count = async (g: ProcessGateway, text: string) => (await dbRow<{ n: number }>(g.where, text))!.n;

beforeAll(async () => {
  const [pa, pb] = [freePort(), freePort()];
  hostile = await TestPeer.start({ ocid: 500, name: "Hostile Gateway", capabilities: ["transfer.create"] });
  const aUrl = `http://127.0.0.1:${pa}/opencharge`;
  const bUrl = `http://127.0.0.1:${pb}/opencharge`;
  if (testEngine() === "postgres") databases = await Promise.all([freshDatabase("p2p_a"), freshDatabase("p2p_b")]);
  const [dbA, dbB] = databases.map((d) => ({ databaseUrl: d.url }));
  A = new ProcessGateway({
    ocid: 300,
    name: "Gateway A",
    port: pa,
    config: {
      acceptIssuers: [400, 500],
      directory: { "400": bUrl, "4001": `${bUrl}/users/4001/metadata.json`, "500": hostile.endpoint, "5001": `${hostile.endpoint}/users/5001/metadata.json` },
      ...dbA,
    },
  });
  B = new ProcessGateway({ ocid: 400, name: "Gateway B", port: pb, config: { acceptIssuers: [300], directory: { "300": aUrl, "3001": `${aUrl}/users/3001/metadata.json` }, ...dbB } });
  await Promise.all([A.start(), B.start()]);
  // The processes really are on the engine under test: on PostgreSQL neither makes a SQLite file.
  for (const g of [A, B]) expect(existsSync(join(g.dataDir, "gateway.sqlite"))).toBe(databases.length === 0);
  hostile.trustGateway(300, A.publicKeyHex);
  // The hostile gateway publishes a person's OCID like a real gateway does: its own key, its own endpoint.
  hostile.route("GET", "/users/5001/metadata.json", () => ({ body: { ...hostile.metadataDocument("nested"), name: "mallory", gateway: 500 }, sign: false }));
  [alice, bob] = await Promise.all([A.addUser("alice", "USD:100.00"), B.addUser("bob")]);
  for (const r of await Promise.all([
    A.cli("users", "set-ocid", "alice", "3001"),
    B.cli("users", "set-ocid", "bob", "4001"),
    B.cli("ledger", "fund-peer", "300", "USD:50.00"),
    A.cli("ledger", "fund-peer", "400", "USD:50.00"),
    A.cli("ledger", "fund-peer", "500", "USD:50.00"),
  ]))
    expect([r.code, r.err]).toEqual([0, ""]);
}, 60_000);

afterAll(async () => {
  await Promise.all([A?.close(), B?.close(), hostile?.stop()]);
  for (const d of databases) await d.drop();
});

/** Both books balanced (the CLI's full check) and each other's mirror: what left A through B arrived at B from A. */
afterEach(async () => {
  for (const g of [A, B]) if (!g.running) await g.start();
  for (const g of [A, B]) {
    const r = await g.cli("ledger", "balances");
    expect([g.ocid, r.code, r.out.includes("ledger: balanced")]).toEqual([g.ocid, 0, true]);
  }
  expect(await dbBalance(A.where, "external:400") + await dbBalance(B.where, "peer:300")).toBe(RESERVE);
  expect(await dbBalance(B.where, "external:300") + await dbBalance(A.where, "peer:400")).toBe(RESERVE);
  expect(await dbBalance(A.where, "settlement_in_flight")).toBe(await pendingMinor(A));
  expect(await dbBalance(B.where, "settlement_in_flight")).toBe(await pendingMinor(B));
}, 30_000);

test("A's user sends to B's user by OCID and back: proofs verified, both credited live, both histories", async () => {
  const bobSocket = await ws(B, bob.token);
  const r = await send(A, alice.token, { to: 4001, amount: "10.00", memo: "rent" });
  expect([r.status, r.json.status]).toEqual([200, "paid"]);
  expect(r.json.txid).toMatch(/^tx_/);
  const credit = await bobSocket.next((m) => m.type === "credit_received");
  expect(credit).toMatchObject({ kind: "transfer", amount: "10.00", currency: "USD", txid: r.json.txid, memo: "rent", from: { gateway: 300, ocid: 300, reference: "3001" } });
  expect(await dbBalance(A.where, `user:${alice.id}`)).toBe(9000n);
  expect(await dbBalance(B.where, `user:${bob.id}`)).toBe(1000n);
  // B's proof is what A stored as the transfer's final proof, and it names bob's OCID as the recipient.
  const stored = (await dbRow<{ proof_json: string }>(A.where, "SELECT proof_json FROM p2p_transfers WHERE txid = ?", r.json.txid))!;
  expect(JSON.parse(stored.proof_json)).toMatchObject({ issuer: 400, to: { ocid: 4001 }, amount: "10.00", currency: "USD" });

  const aliceSocket = await ws(A, alice.token);
  const back = await send(B, bob.token, { to: "3001", amount: "4.00" });
  expect([back.status, back.json.status]).toEqual([200, "paid"]);
  expect(await aliceSocket.next((m) => m.type === "credit_received")).toMatchObject({ amount: "4.00", from: { gateway: 400, reference: "4001" } });
  expect(await dbBalance(A.where, `user:${alice.id}`)).toBe(9400n);
  expect(await dbBalance(B.where, `user:${bob.id}`)).toBe(600n);

  // Newest first; within one second the order between kinds is not defined, so look items up by kind.
  const ha = (await appAt(A.url, alice.token, "GET", "/app/history")).json.items;
  const of = (items: any[], kind: string) => items.find((i) => i.kind === kind);
  expect(of(ha, "credit")).toMatchObject({ kind: "credit", amount: "4.00", from: { gateway: 400, ocid: 400, reference: "4001" } });
  expect(of(ha, "sent")).toMatchObject({ kind: "sent", amount: "10.00", status: "paid", to: { ocid: 4001, gateway: 400, name: "bob" } });
  const hb = (await appAt(B.url, bob.token, "GET", "/app/history")).json.items;
  expect(of(hb, "sent")).toMatchObject({ kind: "sent", amount: "4.00", to: { ocid: 3001, gateway: 300, name: "alice" } });
  expect(of(hb, "credit")).toMatchObject({ kind: "credit", amount: "10.00", from: { gateway: 300, reference: "3001" } });
  bobSocket.close();
  aliceSocket.close();
}, 30_000);

test("concurrent sends across gateways exceeding the sender's balance: exactly the funded ones go through", async () => {
  const dora = await A.addUser("dora", "USD:5.00");
  const before = await dbBalance(B.where, `user:${bob.id}`);
  const rs = await Promise.all(Array.from({ length: 8 }, () => send(A, dora.token, { to: 4001, amount: "1.00" })));
  expect(rs.filter((r) => r.status === 200 && r.json.status === "paid").length).toBe(5);
  expect(rs.filter((r) => r.status === 402 && r.json.error.code === "INSUFFICIENT_FUNDS").length).toBe(3);
  expect(await dbBalance(A.where, `user:${dora.id}`)).toBe(0n);
  expect(await dbBalance(B.where, `user:${bob.id}`) - before).toBe(500n);
}, 30_000);

test("B refusing (our reserve at B is short): the sender is refunded in full, nothing arrives", async () => {
  const carol = await A.addUser("carol", "USD:100.00");
  const before = await dbBalance(B.where, `user:${bob.id}`);
  const r = await send(A, carol.token, { to: 4001, amount: "60.00" });
  expect([r.status, r.json.status, r.json.txid]).toEqual([200, "refunded", undefined]);
  expect(await dbBalance(A.where, `user:${carol.id}`)).toBe(10000n);
  expect(await dbBalance(B.where, `user:${bob.id}`)).toBe(before);
  const hist = (await appAt(A.url, carol.token, "GET", "/app/history")).json.items;
  expect(hist[0]).toMatchObject({ kind: "sent", status: "refunded", amount: "60.00" });
}, 30_000);

test("B down during a send: pending (never refunded while unknown), retried, paid exactly once when B returns", async () => {
  const erin = await A.addUser("erin", "USD:10.00");
  const before = await dbBalance(B.where, `user:${bob.id}`);
  await B.kill();
  const r = await send(A, erin.token, { to: 4001, amount: "3.00" });
  expect([r.status, r.json.status]).toEqual([200, "pending"]);
  const id = r.json.transfer.id as string;
  await Bun.sleep(1500);
  expect(await p2pRow(A, id)).toMatchObject({ status: "pending", state: "pending", pinned: 1 });
  expect(await dbBalance(A.where, `user:${erin.id}`)).toBe(700n); // debited into in-flight, not refunded
  expect(await dbBalance(A.where, "settlement_in_flight")).toBe(300n);
  await B.start();
  await until("the retry to pay", async () => (await p2pRow(A, id))?.status === "paid");
  expect(await dbBalance(B.where, `user:${bob.id}`) - before).toBe(300n);
  // One movement at B for this transfer, whatever the number of attempts.
  const atB = await count(B, "SELECT COUNT(*) AS n FROM idempotency WHERE ocid = 300");
  const keys = await count(A, "SELECT COUNT(*) AS n FROM p2p_transfers WHERE kind = 'outbound' AND status = 'paid' AND via = 400");
  expect(atB).toBe(keys);
  const h = (await appAt(A.url, erin.token, "GET", "/app/history")).json.items;
  expect(h[0]).toMatchObject({ kind: "sent", status: "paid" });
}, 60_000);

test("a gateway answering with replayed, re-signed or mismatching proofs is never paid on them; a refusal refunds", async () => {
  const frank = await A.addUser("frank", "USD:20.00");
  const other = TestPeer.offline({ ocid: 500 });
  let honest = false;
  let first: { proof: Record<string, unknown>; signature: string } | null = null;
  const modes = new Map<string, string>();
  hostile.route("POST", "/transfer/create", (req) => {
    if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: "bad" } } };
    const b = req.json;
    const mode = honest ? "honest" : (b.memo as string);
    const fields = { from: b.from, to: b.to, amount: b.amount, currency: b.currency, txid: "tx_" + req.headers.get("idempotency-key") };
    modes.set(req.headers.get("idempotency-key")!, mode);
    switch (mode) {
      case "refuse":
        return { status: 400, body: { error: { code: "ACCOUNT_NOT_FOUND", message: "no such user", details: { field: "to" } } } };
      case "replay": // the exact bytes of an earlier transfer's proof: it names that transfer, not this one
        return { body: first };
      case "reused-txid": // a fresh proof for this transfer under a txid already paid on
        return { body: hostile.issueProof({ ...fields, txid: first!.proof.txid as string }) };
      case "resigned":
        return { body: other.issueProof(fields) };
      case "wrong-recipient":
        return { body: hostile.issueProof({ ...fields, to: { ocid: 5002 } }) };
      case "wrong-amount":
        return { body: hostile.issueProof({ ...fields, amount: "0.01" }) };
      default: {
        const p = hostile.issueProof(fields);
        first ??= p;
        return { body: p };
      }
    }
  });
  const ok = await send(A, frank.token, { to: 5001, amount: "1.00", memo: "honest" });
  expect(ok.json.status).toBe("paid");
  const refused = await send(A, frank.token, { to: 5001, amount: "1.00", memo: "refuse" });
  expect(refused.json.status).toBe("refunded");
  const bad: Record<string, string> = {};
  for (const memo of ["replay", "reused-txid", "resigned", "wrong-recipient", "wrong-amount"]) {
    // The replays ask for the first proof's own amount, so only its reference or its (issuer, txid) can give them away.
    const r = await send(A, frank.token, { to: 5001, amount: memo === "replay" || memo === "reused-txid" ? "1.00" : "2.00", memo });
    expect([memo, r.status, r.json.status]).toEqual([memo, 200, "pending"]);
    bad[memo] = r.json.transfer.id;
  }
  expect(await dbBalance(A.where, `user:${frank.id}`)).toBe(2000n - 100n - 100n - 100n - 600n);
  expect(await dbBalance(A.where, "external:500")).toBe(100n);
  const anomalies = await dbRows<{ kind: string; detail: string }>(A.where, "SELECT kind, detail FROM anomalies");
  expect(anomalies.some((a) => a.kind === "proof_reused")).toBe(true);
  expect(anomalies.filter((a) => a.kind === "transfer_response_invalid").length).toBeGreaterThanOrEqual(4);
  expect(anomalies.some((a) => a.detail.includes(bad.replay!) && a.detail.includes("recipient_mismatch"))).toBe(true);
  // Once it answers honestly, the retries (same key, same bytes) settle every pending one, each exactly once.
  honest = true;
  await until("the pending transfers to settle", async () => (await Promise.all(Object.values(bad).map((id) => p2pRow(A, id)))).every((t) => t?.status === "paid"), 45_000);
  expect(await dbBalance(A.where, "external:500")).toBe(900n);
  expect(await dbBalance(A.where, `user:${frank.id}`)).toBe(1100n);
}, 60_000);

test("inbound from another gateway to a user's OCID: /transfer/create and /transfer/webhook credit once, pushed live", async () => {
  const sock = await ws(A, alice.token);
  const before = await dbBalance(A.where, `user:${alice.id}`);
  const created = await hostile.call(A.url, "POST", "/opencharge/transfer/create", { from: { ocid: 500, reference: "5001" }, to: { ocid: 3001 }, amount: "2.00", currency: "USD" });
  expect(created.status).toBe(200);
  expect(created.json.proof).toMatchObject({ issuer: 300, to: { ocid: 3001 }, amount: "2.00" });
  expect(await sock.next((m) => m.type === "credit_received" && m.amount === "2.00")).toMatchObject({ from: { gateway: 500, ocid: 500, reference: "5001" } });
  // No webhook goes to a person's OCID: the credit is ours to make.
  expect(await count(A, "SELECT COUNT(*) AS n FROM deliveries WHERE target_ocid = 3001")).toBe(0);

  const signed = hostile.issueProof({ from: { ocid: 500, reference: "5001" }, to: { ocid: 3001 }, amount: "1.50", currency: "USD" });
  const w1 = await hostile.call(A.url, "POST", "/opencharge/transfer/webhook", signed);
  expect(w1.json).toEqual({ status: "accepted", txid: signed.proof.txid });
  expect(await sock.next((m) => m.type === "credit_received" && m.amount === "1.50")).toMatchObject({ kind: "credit", txid: signed.proof.txid });
  const replay = await hostile.call(A.url, "POST", "/opencharge/transfer/webhook", signed);
  expect(replay.json).toEqual(w1.json);
  const forged = TestPeer.offline({ ocid: 500 }).issueProof({ to: { ocid: 3001 }, amount: "9.00", currency: "USD" });
  const w3 = await hostile.call(A.url, "POST", "/opencharge/transfer/webhook", forged);
  expect([w3.status, w3.json.error.code]).toEqual([400, "PROOF_SIGNATURE_INVALID"]);
  expect(await dbBalance(A.where, `user:${alice.id}`) - before).toBe(350n);
  sock.close();
  // Restore the mirror the afterEach checks: these credits came from 500, not from B.
}, 30_000);
