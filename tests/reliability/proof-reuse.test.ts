// Issue 23 items 3-4: lying peers reuse txids across jobs and across paths. One (issuer, txid) names one movement
// (§12.5, §13.3 step 9): the third-party path's payment reference and provider proof, the final proofs, and
// credits posted to /transfer/webhook all claim the same registry, whichever path saw the txid first.
import { afterAll, afterEach, expect, test } from "bun:test";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow } from "../helpers/inspect";
import { startSettlementPeers, type SettlementPeers } from "../helpers/settlement-peers";
import { makeOrder } from "../peers/kit";
import { fileDone, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("proof-reuse");

const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
let running: { tg: PortTestGateway; peers: SettlementPeers } | null = null;

afterEach(async () => {
  offset.s = 0;
  if (!running) return;
  await assertPortLedgerBalanced(running.tg);
  await running.peers.stop();
  await running.tg.close();
  running = null;
});
afterAll(() => fileDone(import.meta.path));

async function setup() {
  const tg = await startPortTestGateway(
    {
      partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
      providers: [{ ocid: 300, currencies: ["USD"] }],
      acceptIssuers: [101, 300],
      outboundTimeouts: { settlementMs: 1500, webhookMs: 1500 },
      rateLimits: NO_RATE_LIMITS,
      settlementDeadline: 60,
    },
    { clock: now },
  );
  const peers = await startSettlementPeers(tg);
  running = { tg, peers };
  let seq = 0;
  const order = async (accepts: number[], amount = "3.00") => {
    const { user, token } = await seedUser(tg, `u${++seq}`, "USD:100.00");
    const s = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
    const o = makeOrder(500, { accepts, amount });
    const sub = await peers.merchant.call(tg.url, "POST", `/opencharge/orders/create/${s}`, { order: o, signature: peers.merchant.signOrder(o), urls: {} }, { timestamp: now() });
    expect(sub.status).toBe(200);
    expect((await app(tg, token, "POST", `/app/confirm/${s}`, {})).status).toBe(200);
    return { user, sessionId: s, orderId: o.id as string, status: async () => (await tg.gw.store.read((tx) => tx.orders.bySession(s)))!.status };
  };
  return { tg, peers, order };
}

const count = async (tg: PortTestGateway, text: string, ...params: unknown[]) => (await dbRow<{ n: number }>(tg, text, ...params))!.n;
const anomalies = (tg: PortTestGateway) => count(tg, "SELECT COUNT(*) AS n FROM anomalies WHERE kind = 'proof_reused'");
const settledMoves = (tg: PortTestGateway, reason: string) =>
  count(tg, "SELECT COUNT(DISTINCT movement_id) AS n FROM ledger_entries WHERE reason = ?", reason);

/** Drives the scheduler past retry delays until `pred` holds (retries are 5 s, 15 s, ... on the injected clock). */
async function until(tg: PortTestGateway, what: string, pred: () => Promise<boolean>) {
  await waitUntil(what, async () => {
    if (await pred()) return true;
    offset.s += 5;
    tg.scheduler.wake();
    return false;
  }, 15_000, 40);
}

test("third party: a merchant gateway reusing one payment txid and a provider reusing one proof settle one order, not two", async () => {
  const { tg, peers, order } = await setup();
  // The lying pair: every payment.create answers the same txid; the provider answers the first proof it made,
  // whatever it is asked; the MG settles whichever order the job's payment.create named.
  const byJob = new Map<string, string>();
  peers.paymentCreate.override((req) => {
    byJob.set(req.headers.get("idempotency-key")!.split(":")[0]!, req.json.order.id);
    return { body: { status: "pending_settlement", txid: "pay_same", amount: req.json.amount, currency: req.json.currency, settlement: { accepts: [300] } } };
  });
  let providerProof: any = null;
  peers.providerTransfer.override((req) => {
    providerProof ??= peers.provider.issueProof({ from: req.json.from, to: req.json.to, amount: req.json.amount, currency: req.json.currency });
    return { body: { status: "completed", ...providerProof } };
  });
  peers.paymentSettle.override((req) => {
    const orderId = byJob.get(req.headers.get("idempotency-key")!.split(":")[0]!)!;
    const final = peers.mg.issueProof({ from: { ocid: 200 }, to: { ocid: 500, reference: orderId }, amount: "3.00", currency: "USD" });
    return { body: { status: "completed", txid: req.json.txid, ...final } };
  });
  const a = await order([102]);
  await until(tg, "order A to be paid", async () => (await a.status()) === "paid");
  const b = await order([102]);
  await until(tg, "order B to finish", async () => !["confirmed", "awaiting_confirmation"].includes(await b.status()));
  tally.tried("proofReuse", 2);
  expect(await b.status()).toBe("failed"); // payment.create moved nothing: the path fails definitively, B is refunded
  expect(await portBalance(tg, `user:${b.user.id}`)).toBe(10_000n);
  expect(await portBalance(tg, "external:300")).toBe(300n); // one 3.00 proof, one 3.00 movement
  expect(await settledMoves(tg, "settled_common_third_party")).toBe(1);
  expect(await anomalies(tg)).toBeGreaterThanOrEqual(1);
});

test("third party: a provider proof txid already credited to a user is not accepted as a settlement step (and the reverse)", async () => {
  const { tg, peers, order } = await setup();
  const { user } = await seedUser(tg, "payee");
  // 300 first credits our user with txid T ...
  const credit = peers.provider.issueProof({ txid: "tx_provider_T", to: { ocid: 200, reference: `user_${user.id}` }, amount: "3.00", currency: "USD" });
  const r = await peers.provider.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() });
  expect(r.json.status).toBe("accepted");
  // ... then answers a settlement's provider step with a proof carrying the same txid.
  peers.providerTransfer.override((req) => ({
    body: { status: "completed", ...peers.provider.issueProof({ txid: "tx_provider_T", from: req.json.from, to: req.json.to, amount: req.json.amount, currency: req.json.currency }) },
  }));
  const a = await order([102]);
  await until(tg, "the reused provider txid to be refused", async () => (await anomalies(tg)) >= 1);
  tally.tried("proofReuse");
  expect(await a.status()).toBe("confirmed"); // value may have moved at the provider: pinned, never paid on a reused proof
  expect(await settledMoves(tg, "settled_common_third_party")).toBe(0);
  expect(peers.stats.moved.get("/payment/settle") ?? 0).toBe(0);
  // Across paths the other way: the payment reference job A holds from 102, later posted by 102 as a credit.
  const used = await dbRow<{ txid: string }>(tg, "SELECT txid FROM received_proofs WHERE issuer = 102 AND outcome = 'payment_ref'");
  expect(used).toBeDefined();
  const asCredit = peers.mg.issueProof({ txid: used!.txid, to: { ocid: 200, reference: `user_${user.id}` }, amount: "3.00", currency: "USD" });
  tg.gw.config.acceptIssuers.push(102);
  const c = await peers.mg.call(tg.url, "POST", "/opencharge/transfer/webhook", asCredit, { timestamp: now() });
  tally.tried("proofReuse");
  expect(c.json.status).toBe("rejected");
  expect(await portBalance(tg, `user:${user.id}`)).toBe(300n);
});

test("partner reserve: a settlement txid posted later as a credit is refused; a credited txid returned as a settlement proof is not paid", async () => {
  const { tg, peers, order } = await setup();
  const { user } = await seedUser(tg, "payee");
  const a = await order([101]);
  await until(tg, "order A to be paid", async () => (await a.status()) === "paid");
  const T = (await tg.gw.store.read((tx) => tx.orders.bySession(a.sessionId)))!.finalTxid!;
  const credit = peers.partner.issueProof({ txid: T, to: { ocid: 200, reference: `user_${user.id}` }, amount: "3.00", currency: "USD" });
  for (let i = 0; i < 3; i++) {
    const r = await peers.partner.call(tg.url, "POST", "/opencharge/transfer/webhook", credit, { timestamp: now() });
    tally.tried("proofReuse");
    tally.status("proofReuse", r.status);
    expect(r.json).toEqual({ status: "rejected", txid: T, message: "txid already used for another transfer" });
  }
  expect(await portBalance(tg, `user:${user.id}`)).toBe(0n);
  // Reverse order: 101 credits txid U, then returns U as the final proof of a partner-reserve settlement.
  const u = peers.partner.issueProof({ txid: "tx_partner_U", to: { ocid: 200, reference: `user_${user.id}` }, amount: "3.00", currency: "USD" });
  expect((await peers.partner.call(tg.url, "POST", "/opencharge/transfer/webhook", u, { timestamp: now() })).json.status).toBe("accepted");
  peers.partnerTransfer.override((req) => ({
    body: peers.partner.issueProof({ txid: "tx_partner_U", from: req.json.from, to: req.json.to, amount: req.json.amount, currency: req.json.currency }),
  }));
  const b = await order([101]);
  await until(tg, "the reused txid to be refused", async () => (await anomalies(tg)) >= 2);
  tally.tried("proofReuse");
  expect(await b.status()).toBe("confirmed");
  expect(await settledMoves(tg, "settled_partner_reserve")).toBe(1);
  expect(await portBalance(tg, `user:${user.id}`)).toBe(300n);
});

test("webhook provider branch: a provider proof a job already used, posted for another job's step, does not advance it", async () => {
  const { tg, peers, order } = await setup();
  const a = await order([102]);
  await until(tg, "order A to be paid", async () => (await a.status()) === "paid");
  const aProof = await dbRow<{ txid: string }>(tg, "SELECT txid FROM received_proofs WHERE issuer = 300 AND outcome = 'settlement'");
  expect(aProof).toBeDefined(); // the synchronous provider step claims its proof too
  // Job B's provider call never answers in time; the provider then posts A's txid re-signed for B's reference.
  peers.providerTransfer.override(async () => (await Bun.sleep(2500), { status: 503, body: { error: { code: "INTERNAL_ERROR", message: "slow" } } }));
  const b = await order([102]);
  await waitUntil("B to reach the provider step", async () => (await jobOf(tg, b.sessionId))?.step === "provider.transfer.create");
  const bRef = JSON.parse((await jobOf(tg, b.sessionId))!.stepData).txid as string;
  const reused = peers.provider.issueProof({ txid: aProof!.txid, from: { ocid: 200 }, to: { ocid: 102, reference: bRef }, amount: "3.00", currency: "USD" });
  const r = await peers.provider.call(tg.url, "POST", "/opencharge/transfer/webhook", reused, { timestamp: now() });
  tally.tried("proofReuse");
  expect(r.json.status).toBe("accepted"); // §9.8: a txid already recorded for a step is acknowledged ...
  expect((await jobOf(tg, b.sessionId))!.step).toBe("provider.transfer.create"); // ... and moves nothing
  expect(await settledMoves(tg, "settled_common_third_party")).toBe(1);
});

/** The settlement job of a session's order, read through the port. */
function jobOf(tg: PortTestGateway, sessionId: string) {
  return tg.gw.store.read(async (tx) => tx.jobs.byOrder((await tx.orders.bySession(sessionId))!.id));
}
