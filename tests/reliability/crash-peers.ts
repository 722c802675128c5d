// The four peers of the crash-recovery run, each an independent signing TestPeer on loopback that behaves the
// way a real peer must: idempotent on Idempotency-Key, and keeping a ledger of its own — every transfer it
// actually performed and every proof it issued — so the test can compare their books with ours afterwards.
import { TestPeer, type PeerReply } from "../peers/kit";

export type Move = { key: string; orderRef: string; txid: string; amount: string };

export async function startCrashPeers(gatewayOcid: number, gatewayKeyHex: string, delay: () => number) {
  const merchant = await TestPeer.start({ ocid: 500, name: "Crash Shop" });
  const partner = await TestPeer.start({ ocid: 101, name: "Partner GW", settlement: { currencies: ["USD"], accepts: [] } });
  const mg = await TestPeer.start({ ocid: 102, name: "Merchant GW", settlement: { currencies: ["USD"], accepts: [300] } });
  const provider = await TestPeer.start({ ocid: 300, name: "Bank" });
  const all = [merchant, partner, mg, provider];
  for (const p of all) p.trustGateway(gatewayOcid, gatewayKeyHex);
  mg.trustGateway(provider.ocid, provider.publicKeyHex);
  mg.trustGateway(gatewayOcid, gatewayKeyHex); // the last trusted is the default for response checks

  const books = {
    /** proofs the merchant accepted at its webhook (direct settlement) */
    merchantReceived: [] as { orderRef: string; txid: string; amount: string; idempotencyKey: string | null }[],
    /** transfers the partner performed (partner reserve), one per Idempotency-Key at most */
    partnerMoves: [] as Move[],
    /** transfers the provider performed (third party), one per Idempotency-Key at most */
    providerMoves: [] as Move[],
    /** final proofs the merchant gateway issued to the merchant (third party) */
    mgFinals: [] as { orderRef: string; txid: string; payTxid: string }[],
    /** our proofs the merchant gateway accepted at its webhook (hosted checkout) */
    mgReceived: [] as { orderRef: string; txid: string; amount: string }[],
    /** every authentic value-moving request with its Idempotency-Key, repeats included (what reached the peer) */
    calls: [] as { route: string; key: string }[],
    /** requests refused for a bad signature or a missing Idempotency-Key: must stay 0 */
    refusedRequests: 0,
  };
  const called = (route: string, key: string | null) => void (key && books.calls.push({ route, key }));
  const unauthorised = (): PeerReply => {
    books.refusedRequests++;
    return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: "bad signature" } } };
  };

  merchant.route("POST", "/transfer/webhook", (req) => {
    if (!req.authentic) return unauthorised();
    const { proof, signature } = req.json ?? {};
    if (merchant.verifyProof(proof, signature, gatewayKeyHex) !== "deep" || proof.issuer !== gatewayOcid)
      return { body: { status: "rejected", txid: proof?.txid, message: "bad proof" } };
    books.merchantReceived.push({ orderRef: proof.to.reference, txid: proof.txid, amount: proof.amount, idempotencyKey: req.headers.get("idempotency-key") });
    return { body: { status: "accepted", txid: proof.txid }, delayMs: delay() };
  });

  mg.route("POST", "/transfer/webhook", (req) => {
    if (!req.authentic) return unauthorised();
    const { proof, signature } = req.json ?? {};
    if (mg.verifyProof(proof, signature, gatewayKeyHex) !== "deep" || proof.issuer !== gatewayOcid || proof.to?.ocid !== 102)
      return { body: { status: "rejected", txid: proof?.txid, message: "bad proof" } };
    books.mgReceived.push({ orderRef: proof.to.reference, txid: proof.txid, amount: proof.amount });
    return { body: { status: "accepted", txid: proof.txid }, delayMs: delay() };
  });

  const partnerDone = new Map<string, PeerReply>();
  partner.route("POST", "/transfer/create", (req) => {
    if (!req.authentic) return unauthorised();
    const key = req.headers.get("idempotency-key");
    if (!key) return unauthorised();
    called("partner /transfer/create", key);
    const b = req.json;
    if (String(b.to?.reference).startsWith("refuse_"))
      return { status: 402, body: { error: { code: "INSUFFICIENT_FUNDS", message: "reserve short" } }, delayMs: delay() };
    let r = partnerDone.get(key);
    if (!r) {
      const issued = partner.issueProof({ from: b.from, to: b.to, amount: b.amount, currency: b.currency });
      r = { body: issued };
      partnerDone.set(key, r);
      books.partnerMoves.push({ key, orderRef: b.to.reference, txid: issued.proof.txid as string, amount: b.amount });
    }
    return { ...r, delayMs: delay() };
  });

  const payments = new Map<string, { to: number; amount: string; currency: string; orderId: string }>();
  const paymentByKey = new Map<string, PeerReply>();
  mg.route("POST", "/payment/create", (req) => {
    if (!req.authentic) return unauthorised();
    const key = req.headers.get("idempotency-key");
    if (!key) return unauthorised();
    called("mg /payment/create", key);
    let r = paymentByKey.get(key);
    if (!r) {
      const b = req.json;
      const txid = `pay_${payments.size + 1}_${Date.now().toString(36)}`;
      payments.set(txid, { to: b.to, amount: b.amount, currency: b.currency, orderId: b.order.id });
      r = { body: { status: "pending_settlement", txid, amount: b.amount, currency: b.currency, settlement: { accepts: [300] } } };
      paymentByKey.set(key, r);
    }
    return { ...r, delayMs: delay() };
  });

  const providerDone = new Map<string, PeerReply>();
  provider.route("POST", "/transfer/create", (req) => {
    if (!req.authentic) return unauthorised();
    const key = req.headers.get("idempotency-key");
    if (!key) return unauthorised();
    called("provider /transfer/create", key);
    let r = providerDone.get(key);
    if (!r) {
      const b = req.json;
      const issued = provider.issueProof({ from: b.from, to: b.to, amount: b.amount, currency: b.currency });
      r = { body: { status: "completed", ...issued } };
      providerDone.set(key, r);
      books.providerMoves.push({ key, orderRef: payments.get(b.to.reference)?.orderId ?? `?${b.to.reference}`, txid: issued.proof.txid as string, amount: b.amount });
    }
    return { ...r, delayMs: delay() };
  });

  const settled = new Map<string, Record<string, unknown>>();
  mg.route("POST", "/payment/settle", (req) => {
    if (!req.authentic) return unauthorised();
    called("mg /payment/settle", req.headers.get("idempotency-key"));
    const b = req.json;
    const p = payments.get(b.txid);
    const ok = p && mg.verifyProof(b.proof, b.signature, provider.publicKeyHex) && b.proof.to.ocid === 102 && b.proof.to.reference === b.txid;
    if (!p || !ok) return { status: 400, body: { error: { code: "INVALID_PROOF", message: "provider proof not valid" } } };
    let final = settled.get(b.txid);
    if (!final) {
      const f = mg.issueProof({ from: { ocid: gatewayOcid }, to: { ocid: p.to, reference: p.orderId }, amount: p.amount, currency: p.currency });
      final = { status: "completed", txid: b.txid, ...f };
      settled.set(b.txid, final);
      books.mgFinals.push({ orderRef: p.orderId, txid: f.proof.txid as string, payTxid: b.txid });
    }
    return { body: final, delayMs: delay() };
  });
  mg.route("GET", "/verify/:txid", (req, params) => {
    if (!req.authentic) return unauthorised();
    const final = settled.get(params.txid!);
    if (final) return { body: final };
    if (payments.has(params.txid!)) return { body: { status: "pending", txid: params.txid } };
    return { status: 404, body: { error: { code: "TXID_NOT_FOUND", message: "unknown txid" } } };
  });

  return {
    merchant,
    partner,
    mg,
    provider,
    books,
    payments,
    async stop() {
      await Promise.all(all.map((p) => p.stop()));
    },
  };
}
