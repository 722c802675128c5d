// Issue 9 §4 — replay and forgery: captured requests replayed inside and outside the window, valid requests
// re-pointed at other paths, proofs replayed to /transfer/webhook, replacer-signed proofs with changed nested
// fields in a settlement reply, and metadata served by an impostor. Each one is counted; none may move money.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbDigestOf, dbRow } from "../helpers/inspect";
import { makeOrder, TestPeer, type CallResult } from "../peers/kit";
import { bulkSessions, fileDone, findSecrets, hexOf, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("replay-forgery"); // nothing random here, but the line keeps every file's header alike

let tg: PortTestGateway;
let merchant: TestPeer; // 500
let funder: TestPeer; // 501: holds an account with us
let issuer: TestPeer; // 101: accepted issuer and partner gateway
let real600: TestPeer; // the genuine holder of OCID 600
let impostor: TestPeer; // serves metadata for 600 with its own key
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
/** Puts the gateway's clock exactly `shift` seconds after `signedAt`, however long the machine took to get here
 * (a fixed offset added the real seconds that passed since signing, so "299 s later" became 301 on a busy box). */
const shiftSince = (signedAt: number, shift: number) => {
  offset.s = shift - (Math.floor(Date.now() / 1000) - signedAt);
};
const tokens: string[] = [];
let user: { id: string; token: string };

beforeAll(async () => {
  tg = await startPortTestGateway(
    {
      rateLimits: NO_RATE_LIMITS,
      maxPendingSessions: 10_000,
      acceptIssuers: [101],
      partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
      outboundTimeouts: { settlementMs: 2000, webhookMs: 2000 },
    },
    { clock: now },
  );
  merchant = await TestPeer.start({ ocid: 500, name: "Shop" });
  funder = await TestPeer.start({ ocid: 501, name: "Funder" });
  issuer = await TestPeer.start({ ocid: 101, name: "Partner" });
  real600 = await TestPeer.start({ ocid: 600, name: "Genuine 600" });
  impostor = await TestPeer.start({ ocid: 600, name: "Impostor 600" });
  for (const p of [merchant, funder, issuer, real600, impostor]) p.trustGateway(200, tg.gw.key.publicKeyHex);
  for (const p of [merchant, funder, issuer]) await tg.gw.directory.add(p.ocid, p.endpoint);
  merchant.route("POST", "/transfer/webhook", (req) => ({ body: { status: "accepted", txid: req.json?.proof?.txid } }));
  const u = await seedUser(tg, "victim", "USD:100.00");
  user = { id: u.user.id, token: u.token };
  tokens.push(u.token);
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:501", currency: "USD", amount: 100_000n, reason: "funding", now: now() }));
});

afterEach(async () => {
  offset.s = 0;
  await assertPortLedgerBalanced(tg);
});

afterAll(async () => {
  const leaks = findSecrets(tg.logs, [{ label: "gateway private key", value: hexOf(tg.gw.key.secret) }, ...tokens.map((t) => ({ label: "token", value: t }))]);
  for (const p of [merchant, funder, issuer, real600, impostor]) await p.stop();
  await tg.close();
  fileDone(import.meta.path);
  expect(leaks).toEqual([]);
});

/** Re-sends exactly what `r` sent (same headers, same bytes), optionally to another path or method. */
async function resend(r: CallResult, opts: { path?: string; method?: string } = {}): Promise<{ status: number; json: any; text: string }> {
  const u = new URL(r.sent.url);
  const url = opts.path ? `${u.origin}${opts.path}` : r.sent.url;
  const method = opts.method ?? (r.sent.rawBody ? "POST" : "GET");
  const res = await fetch(url, { method, headers: r.sent.headers, body: r.sent.rawBody || undefined });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

/** Every row of every table but the ones background timers write (the readiness probe, the scheduler's leases). */
const digest = () => dbDigestOf(tg, ["nonces", "metadata_cache", "peer_dialects", "sqlite_sequence", "scheduler_lease", "health_probe"]);

/** The order a session holds, if any, read through the port. */
const orderOf = (sessionId: string) => tg.gw.store.read((tx) => tx.orders.bySession(sessionId));

/** One replay/forgery attempt: counted, must not be a 500, must leave the database as it was. */
async function attempt(label: string, run: () => Promise<{ status: number; json: any }>, status: number, code: string) {
  const before = await digest();
  const r = await run();
  tally.tried("replays");
  tally.status("replays", r.status);
  expect(`${label}: ${r.status} ${r.json?.error?.code}`).toBe(`${label}: ${status} ${code}`);
  expect(await digest()).toBe(before);
}

const transfer = () => ({ from: { ocid: 501 }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "1.00", currency: "USD" });

test("replays inside the window are NONCE_REUSED on every route; a money transfer happens once", async () => {
  const [sid] = await bulkSessions(tg, user.id, 1);
  const order = makeOrder(500, { accepts: [200] });
  const signedAt = now(); // no later than any original's timestamp
  const originals: [string, CallResult][] = [
    ["capabilities", await merchant.call(tg.url, "GET", "/opencharge/capabilities", undefined, { timestamp: now() })],
    ["submit", await merchant.call(tg.url, "POST", `/opencharge/orders/create/${sid}`, { order, signature: merchant.signOrder(order), urls: {} }, { timestamp: now() })],
    ["status", await merchant.call(tg.url, "GET", `/opencharge/orders/${order.id}/status`, undefined, { timestamp: now() })],
    ["transfer.create", await funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: now() })],
    ["transfer.webhook", await issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", issuer.issueProof({ to: { ocid: 200, reference: `user_${user.id}` }, amount: "2.00", currency: "USD" }), { timestamp: now() })],
  ];
  for (const [name, r] of originals) expect(`${name} ${r.status}`).toBe(`${name} 200`);
  const userBalance = await portBalance(tg, `user:${user.id}`);
  for (const shift of [0, 1, 120, 299]) {
    for (const [name, r] of originals) {
      shiftSince(signedAt, shift);
      await attempt(`${name} replayed after ${shift}s`, () => resend(r), 401, "NONCE_REUSED");
    }
  }
  // 50 concurrent replays of the transfer: still one transfer.
  const many = await Promise.all(Array.from({ length: 50 }, () => resend(originals[3]![1])));
  tally.tried("replays", many.length);
  for (const m of many) tally.status("replays", m.status);
  expect(many.every((m) => m.status === 401 && m.json.error.code === "NONCE_REUSED")).toBe(true);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(userBalance);
  expect(await portBalance(tg, "peer:501")).toBe(100_000n - 100n);
});

test("replays outside the window are TIMESTAMP_EXPIRED; the nonce outlives the window, so no replay slips between", async () => {
  const r = await funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: now() });
  expect(r.status).toBe(200);
  offset.s = 301;
  await attempt("transfer replayed after 301 s", () => resend(r), 401, "TIMESTAMP_EXPIRED");
  offset.s = 3600;
  await attempt("transfer replayed after an hour", () => resend(r), 401, "TIMESTAMP_EXPIRED");
  offset.s = 0;
  await attempt("signed 301 s in the past", () => funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: now() - 301 }), 401, "TIMESTAMP_EXPIRED");
  await attempt("signed 301 s in the future", () => funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: now() + 301 }), 401, "TIMESTAMP_EXPIRED");
  // The worst case: signed 299 s ahead, used at once, replayed 598 s later (still inside the window): the nonce
  // recorded at first use lives 600 s, so the replay is caught.
  const futureSignedAt = now();
  const future = await funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: futureSignedAt + 299 });
  expect(future.status).toBe(200);
  shiftSince(futureSignedAt, 598);
  await attempt("future-dated transfer replayed at the window's far edge", () => resend(future), 401, "NONCE_REUSED");
  shiftSince(futureSignedAt, 601);
  await attempt("… and just past it", () => resend(future), 401, "TIMESTAMP_EXPIRED");
  expect(await portBalance(tg, "peer:501")).toBe(100_000n - 300n);
});

test("a valid request re-sent to another path or method fails its signature, and does not burn the sender's nonce", async () => {
  const [a, b] = await bulkSessions(tg, user.id, 2);
  const order = makeOrder(500, { accepts: [200] });
  const nonce = "req_path_" + hexOf(crypto.getRandomValues(new Uint8Array(8)));
  // Build (do not send) the genuine request, then send it everywhere else first.
  const body = JSON.stringify({ order, signature: merchant.signOrder(order), urls: {} });
  const headers = merchant.signedRequestHeaders("POST", `/opencharge/orders/create/${a}`, body, { nonce, timestamp: now() });
  const send = (path: string, method = "POST") =>
    fetch(tg.url + path, { method, headers, body: method === "GET" ? undefined : body }).then(async (res) => ({ status: res.status, json: await res.json() }));
  await attempt("submit for session A sent to session B", () => send(`/opencharge/orders/create/${b}`), 401, "INVALID_SIGNATURE");
  await attempt("… with a query string added", () => send(`/opencharge/orders/create/${a}?x=1`), 401, "INVALID_SIGNATURE");
  await attempt("… with a bare ? added", () => send(`/opencharge/orders/create/${a}?`), 401, "INVALID_SIGNATURE");
  await attempt("… to /transfer/create", () => send("/opencharge/transfer/create"), 401, "INVALID_SIGNATURE");
  await attempt("… to /transfer/webhook", () => send("/opencharge/transfer/webhook"), 401, "INVALID_SIGNATURE");
  await attempt("… to /checkout/create", () => send("/opencharge/checkout/create"), 401, "INVALID_SIGNATURE");
  await attempt("… with the body changed by one byte", () => fetch(tg.url + `/opencharge/orders/create/${a}`, { method: "POST", headers, body: body.replace('"urls":{}', '"urls":{ }') }).then(async (res) => ({ status: res.status, json: await res.json() })), 401, "INVALID_SIGNATURE");
  const t = await funder.call(tg.url, "POST", "/opencharge/transfer/create", transfer(), { timestamp: now() });
  await attempt("a transfer re-sent as a webhook", () => resend(t, { path: "/opencharge/transfer/webhook" }), 401, "INVALID_SIGNATURE");
  const caps = await merchant.call(tg.url, "GET", "/opencharge/capabilities", undefined, { timestamp: now() });
  await attempt("a signed GET re-sent to a status URL", () => resend(caps, { path: "/opencharge/orders/x/status" }), 401, "INVALID_SIGNATURE");
  // Route-relative signing is accepted (§4.2 leniency) — but only for the path it names.
  const rel = merchant.signedRequestHeaders("POST", `/orders/create/${a}`, body, { timestamp: now() });
  await attempt("route-relative signature for A sent to B", () => fetch(tg.url + `/opencharge/orders/create/${b}`, { method: "POST", headers: rel, body }).then(async (res) => ({ status: res.status, json: await res.json() })), 401, "INVALID_SIGNATURE");
  // None of the forgeries burned the nonce: the genuine request still goes through, once.
  const genuine = await send(`/opencharge/orders/create/${a}`);
  expect(genuine.status).toBe(200);
  await attempt("the genuine request replayed", () => send(`/opencharge/orders/create/${a}`), 401, "NONCE_REUSED");
  expect((await tg.gw.store.read((tx) => tx.sessions.get(b!)))!.status).toBe("pending");
});

test("proofs replayed to /transfer/webhook: our own proof, someone else's, the same txid again or changed — credited at most once", async () => {
  // A direct payment gives the merchant our proof; it tries to cash it in with us.
  const s = (await app(tg, user.token, "POST", "/app/pay", {})).json.sessionId as string;
  const order = makeOrder(500, { accepts: [200], amount: "3.00" });
  expect((await merchant.call(tg.url, "POST", `/opencharge/orders/create/${s}`, { order, signature: merchant.signOrder(order), urls: {} }, { timestamp: now() })).status).toBe(200);
  expect((await app(tg, user.token, "POST", `/app/confirm/${s}`, {})).status).toBe(200);
  await waitUntil("the direct payment to settle", async () => (await orderOf(s))?.status === "paid");
  const paid = (await orderOf(s))!;
  // The proof's delivery to the merchant runs after `paid`: wait for it, or its row changes under the digests below.
  await waitUntil("the proof's delivery", async () =>
    (await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM deliveries WHERE order_id = ? AND state = 'delivered'", paid.id))!.n === 1,
  );
  const ours = { proof: JSON.parse(paid.finalProofJson!), signature: paid.finalSignature! };
  await attempt("our proof replayed by the merchant", () => merchant.call(tg.url, "POST", "/opencharge/transfer/webhook", ours, { timestamp: now() }), 400, "INVALID_PROOF");
  // A credit from 101, delivered, then replayed by 101 and relayed by others.
  const credit = issuer.issueProof({ to: { ocid: 200, reference: `user_${user.id}` }, amount: "5.00", currency: "USD" });
  const first = await issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() });
  expect(first.json).toEqual({ status: "accepted", txid: credit.proof.txid });
  const after = await portBalance(tg, `user:${user.id}`);
  for (let i = 0; i < 5; i++) {
    const again = await issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() });
    tally.tried("replays");
    tally.status("replays", again.status);
    expect(again.text).toBe(first.text);
  }
  await attempt("101's proof relayed by the merchant", () => merchant.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() }), 400, "INVALID_PROOF");
  await attempt("101's proof relayed by 501", () => funder.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() }), 400, "INVALID_PROOF");
  const bigger = issuer.issueProof({ txid: credit.proof.txid as string, to: { ocid: 200, reference: `user_${user.id}` }, amount: "500.00", currency: "USD" });
  const reused = await issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", bigger, { timestamp: now() });
  tally.tried("replays");
  expect(reused.text).toBe(first.text); // the stored reply; the new amount is never applied
  const forged = { proof: { ...credit.proof, amount: "50.00" }, signature: credit.signature };
  await attempt("101's proof with the amount changed", () => issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", forged, { timestamp: now() }), 400, "PROOF_SIGNATURE_INVALID");
  // Replacer-form proofs leave `to` unsigned: relaying one with `to` redirected is still an issuer mismatch.
  const rep = issuer.issueProof({ to: { ocid: 200, reference: `user_${user.id}` }, amount: "7.00", currency: "USD" }, "replacer");
  const redirected = { proof: { ...rep.proof, to: { ocid: 200, reference: "user_attacker" } }, signature: rep.signature };
  await attempt("replacer proof with `to` redirected, relayed by 500", () => merchant.call(tg.url, "POST", "/opencharge/transfer/webhook", redirected, { timestamp: now() }), 400, "INVALID_PROOF");
  const topForged = { proof: { ...rep.proof, amount: "70.00" }, signature: rep.signature };
  await attempt("replacer proof with the amount changed", () => issuer.call(tg.url, "POST", "/opencharge/transfer/webhook", topForged, { timestamp: now() }), 400, "PROOF_SIGNATURE_INVALID");
  expect(await portBalance(tg, `user:${user.id}`)).toBe(after);
  const credits = (await dbRow<{ n: number }>(
    tg,
    "SELECT COUNT(*) AS n FROM ledger_entries WHERE reason = 'webhook_credit' AND account = ? AND ref = ?",
    `user:${user.id}`,
    `101|${credit.proof.txid}`,
  ))!.n;
  expect(credits).toBe(1);
});

test("a settlement reply whose replacer-signed proof had its nested `to` changed is not accepted; the real proof pays once", async () => {
  const replies: string[] = [];
  let moves = 0;
  const done = new Map<string, { proof: Record<string, unknown>; signature: string }>();
  issuer.route("POST", "/transfer/create", (req) => {
    const key = req.headers.get("idempotency-key")!;
    const b = req.json;
    const n = replies.filter((k) => k === key).length;
    replies.push(key);
    if (!done.has(key)) {
      done.set(key, issuer.issueProof({ from: b.from, to: b.to, amount: b.amount, currency: b.currency }));
      moves++;
    }
    if (n < 2) {
      // Same transfer, signed in the replacer form, with `to` pointed elsewhere (the signature still verifies).
      const rep = issuer.issueProof({ txid: done.get(key)!.proof.txid as string, from: b.from, to: b.to, amount: b.amount, currency: b.currency }, "replacer");
      const to = n === 0 ? { ocid: 500, reference: "ord_someone_else" } : { ocid: 101, reference: b.to.reference };
      return { body: { proof: { ...rep.proof, to }, signature: rep.signature } };
    }
    return { body: done.get(key)! };
  });
  const s = (await app(tg, user.token, "POST", "/app/pay", {})).json.sessionId as string;
  const order = makeOrder(500, { accepts: [101], amount: "4.00" });
  expect((await merchant.call(tg.url, "POST", `/opencharge/orders/create/${s}`, { order, signature: merchant.signOrder(order), urls: {} }, { timestamp: now() })).status).toBe(200);
  const before = await portBalance(tg, `user:${user.id}`);
  expect((await app(tg, user.token, "POST", `/app/confirm/${s}`, {})).status).toBe(200);
  for (let attemptNo = 1; attemptNo <= 2; attemptNo++) {
    await waitUntil(`forged reply ${attemptNo} to be judged`, async () =>
      (await dbRow<{ n: number }>(tg, "SELECT COUNT(*) AS n FROM anomalies WHERE kind = 'settlement_response_invalid'"))!.n >= attemptNo,
    );
    tally.tried("replays");
    expect((await orderOf(s))!.status).toBe("confirmed");
    offset.s += 16; // past the retry delay (5 s, then 15 s)
    tg.scheduler.wake();
  }
  await waitUntil("the genuine proof to settle the order", async () => (await orderOf(s))?.status === "paid", 10_000);
  const o = (await orderOf(s))!;
  const key = [...done.keys()][0]!;
  expect(o.finalTxid).toBe(done.get(key)!.proof.txid as string);
  expect(JSON.parse(o.finalProofJson!).to).toEqual({ ocid: 500, reference: order.id });
  expect(new Set(replies).size).toBe(1); // one Idempotency-Key throughout
  expect(moves).toBe(1);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(before - 400n);
  const settled = await dbRow<{ n: number }>(
    tg,
    "SELECT COUNT(DISTINCT movement_id) AS n FROM ledger_entries WHERE order_id = ? AND reason = 'settled_partner_reserve'",
    o.id,
  );
  expect(settled!.n).toBe(1);
});

test("metadata served by an impostor: requests signed by the genuine key fail, nothing is recorded, the nonce survives", async () => {
  // The directory entry for 600 leads to the impostor's server, which publishes its own key.
  await tg.gw.directory.add(600, impostor.endpoint);
  const nonce = "req_imp_" + hexOf(crypto.getRandomValues(new Uint8Array(8)));
  const body = JSON.stringify({ from: { ocid: 600 }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "1.00", currency: "USD" });
  const headers = real600.signedRequestHeaders("POST", "/opencharge/transfer/create", body, { nonce, timestamp: now() });
  const send = () => fetch(tg.url + "/opencharge/transfer/create", { method: "POST", headers, body }).then(async (r) => ({ status: r.status, json: await r.json() }));
  await attempt("genuine 600's request against the impostor's key", send, 401, "INVALID_SIGNATURE");
  // An impostor document that claims the genuine key but cannot sign for it.
  impostor.setMetadata({ opencharge: "0.1", name: "Impostor", config: { ...real600.metadataConfig(), endpoint: impostor.endpoint }, signature: impostor.signProof(real600.metadataConfig()) });
  await tg.gw.directory.forget(600);
  await attempt("impostor metadata claiming the genuine key, self-signature by another key", send, 502, "METADATA_UNAVAILABLE");
  // A config signed by the right key but not over this config (kit's nested-bad-signature form).
  impostor.setMetadata(real600.metadataDocument("nested-bad-signature"));
  await tg.gw.directory.forget(600);
  await attempt("metadata whose signature covers another config", send, 502, "METADATA_UNAVAILABLE");
  // The operator corrects the entry: the very same request (same nonce, still inside the window) now passes,
  // proving the failed attempts never recorded the genuine sender's nonce.
  await tg.gw.directory.add(600, real600.endpoint);
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:600", currency: "USD", amount: 100n, reason: "funding", now: now() }));
  const ok = await send();
  expect(ok.status).toBe(200);
  await attempt("the genuine request replayed", send, 401, "NONCE_REUSED");
  expect(await portBalance(tg, "peer:600")).toBe(0n);
});

test("regression: removing or re-pointing a directory entry takes effect at once (the persisted metadata cache kept the old key)", async () => {
  const gone = await TestPeer.start({ ocid: 610, name: "Removed peer" });
  gone.trustGateway(200, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(610, gone.endpoint);
  expect((await gone.call(tg.url, "GET", "/opencharge/capabilities", undefined, { timestamp: now() })).status).toBe(200);
  await tg.gw.directory.remove(610);
  await attempt("a removed peer signs a request", () => gone.call(tg.url, "GET", "/opencharge/capabilities", undefined, { timestamp: now() }), 401, "UNKNOWN_OCID");
  const other = await TestPeer.start({ ocid: 610, name: "New holder" });
  await tg.gw.directory.add(610, other.endpoint);
  await attempt("the old key after the entry was re-pointed", () => gone.call(tg.url, "GET", "/opencharge/capabilities", undefined, { timestamp: now() }), 401, "INVALID_SIGNATURE");
  expect(other.metadataFetches).toBe(1);
  await gone.stop();
  await other.stop();
});
