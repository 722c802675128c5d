// Issue 12 §5: webhook answers from merchants whose verifier differs from their signer. The merchant's own code and
// message are recorded; a signature-related rejection re-signs in the next plausible dialect (recorded as learned),
// the first time at once, later ones on the normal schedule; a non-signature rejection guesses nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";
import { dbRow, dbRows } from "../helpers/inspect";
import { deliveriesCommand } from "../../src/cli/deliveries";
import { readWebhookAnswer } from "../../src/settlement/webhook-answer";
import { DocsMerchant } from "./merchant";
import * as lib from "./signing";

const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
let tg: PortTestGateway;
beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS }, { clock: now });
});
afterAll(() => tg.close());

/** Signs with one library, verifies with another: what it signs in says nothing about what it can read. */
function mixed(sk: string, signWith: (sk: string) => lib.Signer, verifyWith: (sk: string) => lib.Signer): lib.Signer {
  const s = signWith(sk);
  const v = verifyWith(sk);
  return { library: `${s.library} signing, ${v.library} verifying`, publicKey: s.publicKey, sign: s.sign, verify: v.verify };
}

async function payThrough(merchant: DocsMerchant) {
  merchant.knowGateway(tg.gw.config.ocid, tg.gw.config.endpoint);
  await tg.gw.directory.add(merchant.ocid, merchant.endpoint);
  const { token } = await seedUser(tg, `payer_${merchant.ocid}`, "USD:20.00");
  const pay = await app(tg, token, "POST", "/app/pay", {});
  const sub = await merchant.scan(pay.json.qrText);
  expect(sub.status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${pay.json.sessionId}`, {})).json.status).toBe("confirmed");
  return sub.orderId;
}

const attemptsOf = (deliveryId: string) =>
  dbRows<{ http_status: number; peer_code: string | null; dialect: string; result: string }>(
    tg,
    "SELECT http_status, peer_code, dialect, result FROM delivery_attempts WHERE delivery_id = ? ORDER BY id",
    deliveryId,
  );
const deliveryFor = async (ocid: number) =>
  (await tg.gw.store.read((tx) => tx.deliveries.list())).find((d) => d.targetOcid === ocid)!;

async function until(cond: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await Bun.sleep(25);
  return cond();
}

test("signs r‖s‖v (ethers), verifies compact only (noble 3): 401 INVALID_SIGNATURE, one immediate re-delivery in compact, paid", async () => {
  const sk = "21".repeat(32);
  const m = await new DocsMerchant(801, "Mixed 801", mixed(sk, lib.ethersSigner, lib.noble3x), { canon: "replacer", metadata: "nested" }).start();
  try {
    const orderId = await payThrough(m);
    expect(await until(async () => m.books.get(orderId)?.status === "paid" && (await deliveryFor(801)).state === "delivered")).toBe(true);
    const d = await deliveryFor(801);
    expect(d.state).toBe("delivered");
    expect(await attemptsOf(d.id)).toEqual([
      { http_status: 401, peer_code: "INVALID_SIGNATURE", dialect: "rsv130/sha256", result: "retry" },
      { http_status: 200, peer_code: null, dialect: "compact128/sha256", result: "delivered" },
    ]);
    // Observed from its own signatures: r‖s‖v; learned from its answers: compact — which is what we now sign in.
    expect(await tg.gw.store.read((tx) => tx.dialects.get(801))).toMatchObject({ encoding: "rsv130", learnedEncoding: "compact128", learnedHash: "sha256" });
    expect(await tg.gw.store.read((tx) => tx.dialects.signingFor(801))).toEqual({ encoding: "compact128", hash: "sha256" });
    // Same proof bytes, another signature.
    const sent = JSON.parse(d.body);
    expect(sent.signature).toMatch(/^[0-9a-f]{128}$/);
    const issued = await dbRow<{ proof_json: string }>(tg, "SELECT proof_json FROM issued_proofs WHERE txid = ?", d.txid);
    expect(JSON.stringify(sent.proof)).toBe(JSON.stringify(JSON.parse(issued!.proof_json)));
  } finally {
    m.stop();
  }
});

test("verifies with elliptic (throws on non-DER): 500 VERIFICATION_ERROR recorded and listed; DER on the scheduled retry", async () => {
  const sk = "22".repeat(32);
  const m = await new DocsMerchant(802, "Mixed 802", mixed(sk, lib.ethersSigner, lib.ellipticSigner), { canon: "replacer", metadata: "nested" }).start();
  try {
    const orderId = await payThrough(m);
    expect(await until(async () => (await attemptsOf((await deliveryFor(802))?.id ?? "")).length >= 2)).toBe(true);
    await Bun.sleep(200); // no third attempt comes by itself: the one immediate re-delivery is spent
    let d = await deliveryFor(802);
    expect((await attemptsOf(d.id)).map((a) => [a.http_status, a.peer_code, a.dialect])).toEqual([
      [500, "VERIFICATION_ERROR", "rsv130/sha256"],
      [500, "VERIFICATION_ERROR", "compact128/sha256"],
    ]);
    expect(d).toMatchObject({ state: "pending", attempts: 2, dialectRetried: 1, lastPeerCode: "VERIFICATION_ERROR" });
    const said = m.answers[1]!.body.error.message as string; // elliptic's own exception text
    expect(said.length).toBeGreaterThan(0);
    expect(d.lastPeerMessage).toBe(said);
    expect(d.nextAttemptAt - now()).toBeGreaterThanOrEqual(9); // the normal schedule's first step (10 s), not 60 s
    expect(d.nextAttemptAt - now()).toBeLessThanOrEqual(10);
    const lines: string[] = [];
    await deliveriesCommand(tg.gw, { values: {}, positionals: ["list"] }, { log: (s) => lines.push(s), err: () => {} });
    const line = lines.find((l) => l.startsWith(d.id))!;
    expect(line).toContain("\tmerchant=VERIFICATION_ERROR\t");
    expect(line).toContain(`http 500 VERIFICATION_ERROR (${said})`);
    expect(m.books.get(orderId)?.status).toBe("pending");

    offset.s = 11;
    tg.gw.events.deliveryEnqueued();
    expect(await until(async () => m.books.get(orderId)?.status === "paid" && (await deliveryFor(802)).state === "delivered")).toBe(true);
    d = await deliveryFor(802);
    expect(d.state).toBe("delivered");
    expect((await attemptsOf(d.id)).at(-1)).toMatchObject({ http_status: 200, dialect: "der/sha256" });
    expect(JSON.parse(d.body).signature.startsWith("30")).toBe(true);
  } finally {
    offset.s = 0;
    m.stop();
  }
});

test("readWebhookAnswer: which answers count as a signature rejection", () => {
  const e = (code: unknown, message?: unknown) => ({ error: { code, message } });
  expect(readWebhookAnswer(400, e("PROOF_SIGNATURE_INVALID", "Invalid proof signature"))).toEqual({ peerCode: "PROOF_SIGNATURE_INVALID", peerMessage: "Invalid proof signature", signatureRejected: true });
  expect(readWebhookAnswer(401, e("INVALID_SIGNATURE")).signatureRejected).toBe(true);
  expect(readWebhookAnswer(500, e("VERIFICATION_ERROR", "boom")).signatureRejected).toBe(true);
  expect(readWebhookAnswer(400, e("INVALID_PROOF", "Proof signature does not verify")).signatureRejected).toBe(true);
  // Not about the signature, or not an error: nothing is guessed.
  expect(readWebhookAnswer(400, e("INVALID_PROOF", "Amount mismatch"))).toEqual({ peerCode: "INVALID_PROOF", peerMessage: "Amount mismatch", signatureRejected: false });
  expect(readWebhookAnswer(503, e("SERVICE_UNAVAILABLE")).signatureRejected).toBe(false);
  expect(readWebhookAnswer(200, e("PROOF_SIGNATURE_INVALID")).signatureRejected).toBe(false);
  expect(readWebhookAnswer(400, "PROOF_SIGNATURE_INVALID")).toEqual({ peerCode: null, peerMessage: null, signatureRejected: false });
  expect(readWebhookAnswer(400, e("not a code <script>")).peerCode).toBeNull();
  expect(readWebhookAnswer(400, e("X_Y", "m".repeat(5000))).peerMessage).toHaveLength(200);
});
