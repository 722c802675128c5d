// Realistic settlement peers on loopback: each verifies our request signatures, is idempotent on
// Idempotency-Key the way a real peer must be, signs its own proofs, and counts the money it moved.
import { TestPeer, type PeerReply, type PeerRequest } from "../peers/kit";
import type { PortTestGateway } from "./gateway";

type Behaviour = (req: PeerRequest, attempt: number) => PeerReply | null | Promise<PeerReply | null>;

/** Wraps a handler with signature checking, an idempotency cache and an optional override per attempt. */
function idempotent(peer: TestPeer, name: string, produce: (req: PeerRequest) => PeerReply, stats: { moved: Map<string, number> }) {
  const done = new Map<string, PeerReply>();
  const attempts = new Map<string, number>();
  const overrides: Behaviour[] = [];
  peer.route("POST", name, async (req) => {
    if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "bad" } } };
    const key = req.headers.get("idempotency-key") ?? `nokey-${Math.random()}`;
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    for (const o of overrides) {
      const r = await o(req, n);
      if (r) {
        // A reply lost after the work was done: perform it, then answer with the override.
        if ((r as { performed?: boolean }).performed && !done.has(key)) done.set(key, produce(req));
        return r;
      }
    }
    if (!done.has(key)) {
      done.set(key, produce(req));
      stats.moved.set(name, (stats.moved.get(name) ?? 0) + 1);
    }
    return done.get(key)!;
  });
  return {
    override(b: Behaviour) {
      overrides.push(b);
    },
    attempts,
  };
}

export type SettlementPeers = Awaited<ReturnType<typeof startSettlementPeers>>;

export async function startSettlementPeers(tg: PortTestGateway) {
  const gwOcid = tg.gw.config.ocid;
  const stats = { moved: new Map<string, number>() };
  const merchant = await TestPeer.start({ ocid: 500, name: "Coffee Shop" });
  const partner = await TestPeer.start({ ocid: 101, name: "Partner Gateway", settlement: { currencies: ["USD"], accepts: [] } });
  const mg = await TestPeer.start({ ocid: 102, name: "Merchant Gateway", settlement: { currencies: ["USD"], accepts: [300] } });
  const provider = await TestPeer.start({ ocid: 300, name: "Settlement Bank" });
  const all = [merchant, partner, mg, provider];
  for (const p of all) {
    p.trustGateway(gwOcid, tg.gw.key.publicKeyHex);
    await tg.gw.directory.add(p.ocid, p.endpoint);
  }
  // Peers know each other too (the MG verifies the provider's proof).
  mg.trustGateway(provider.ocid, provider.publicKeyHex);
  mg.trustGateway(gwOcid, tg.gw.key.publicKeyHex);

  const webhookLog: { proof: any; signature: string; verified: string | null; authentic: boolean }[] = [];
  const webhookOverrides: Behaviour[] = [];
  let webhookAttempt = 0;
  merchant.route("POST", "/transfer/webhook", async (req) => {
    webhookAttempt++;
    for (const o of webhookOverrides) {
      const r = await o(req, webhookAttempt);
      if (r) return r;
    }
    const verified = merchant.verifyProof(req.json.proof, req.json.signature, tg.gw.key.publicKeyHex);
    webhookLog.push({ proof: req.json.proof, signature: req.json.signature, verified, authentic: req.authentic });
    if (!req.authentic || !verified) return { body: { status: "rejected", txid: req.json?.proof?.txid, message: "bad proof" } };
    return { body: { status: "accepted", txid: req.json.proof.txid } };
  });

  const partnerTransfer = idempotent(
    partner,
    "/transfer/create",
    (req) => {
      const b = req.json;
      return { body: partner.issueProof({ from: b.from, to: b.to, amount: b.amount, currency: b.currency }) };
    },
    stats,
  );

  const payments = new Map<string, { to: number; amount: string; currency: string; orderId: string }>();
  const paymentCreate = idempotent(
    mg,
    "/payment/create",
    (req) => {
      const b = req.json;
      const txid = `pay_${payments.size + 1}_${Math.random().toString(16).slice(2, 8)}`;
      payments.set(txid, { to: b.to, amount: b.amount, currency: b.currency, orderId: b.order.id });
      return { body: { status: "pending_settlement", txid, amount: b.amount, currency: b.currency, settlement: { accepts: [300] } } };
    },
    stats,
  );
  const providerTransfer = idempotent(
    provider,
    "/transfer/create",
    (req) => {
      const b = req.json;
      return { body: { status: "completed", ...provider.issueProof({ from: b.from, to: b.to, amount: b.amount, currency: b.currency }) } };
    },
    stats,
  );
  const paymentSettle = idempotent(
    mg,
    "/payment/settle",
    (req) => {
      const b = req.json;
      const p = payments.get(b.txid);
      const ok = p && mg.verifyProof(b.proof, b.signature, provider.publicKeyHex) && b.proof.to.ocid === 102 && b.proof.to.reference === b.txid;
      if (!p || !ok) return { status: 400, body: { error: { code: "INVALID_PROOF", message: "provider proof not valid" } } };
      const final = mg.issueProof({ from: { ocid: gwOcid }, to: { ocid: p.to, reference: p.orderId }, amount: p.amount, currency: p.currency });
      return { body: { status: "completed", txid: b.txid, ...final } };
    },
    stats,
  );

  return {
    merchant,
    partner,
    mg,
    provider,
    stats,
    webhookLog,
    webhook: { override: (b: Behaviour) => webhookOverrides.push(b) },
    partnerTransfer,
    paymentCreate,
    providerTransfer,
    paymentSettle,
    payments,
    async stop() {
      await Promise.all(all.map((p) => p.stop()));
    },
  };
}
