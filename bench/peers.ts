// Merchant peers for the bench: independent signing peers (tests/peers/kit.ts, no src/ imports) on loopback, each with
// its own key, serving /metadata.json and POST /transfer/webhook. Requests are pre-signed in bulk here.
import { TestPeer, canonicalRequestKit, makeOrder, verifyStringKit } from "../tests/peers/kit";

export type Merchant = { peer: TestPeer; ocid: number };

/** One submit, ready to go out byte for byte: the timed window does no crypto and no JSON on the client side. */
export type SignedSubmit = { sessionId: string; orderId: string; path: string; headers: Record<string, string>; body: string };

/** When each order's proof reached its merchant's webhook (performance.now() of this process). */
export const webhookArrivals = new Map<string, number>();
const webhookWaiters = new Map<string, (t: number) => void>();
export const webhookStats = { received: 0, unauthentic: 0 };

/**
 * The peers are not told to trust the gateway's key (the kit would verify before our handler runs, adding its
 * crypto to the measured latency): the handler takes the arrival time first, then checks the gateway's request
 * signature itself (§4.5/§4.6) and rejects what does not verify.
 */
export async function startMerchants(count: number, gatewayPublicKeyHex: string, firstOcid = 501): Promise<Merchant[]> {
  const out: Merchant[] = [];
  for (let i = 0; i < count; i++) {
    const ocid = firstOcid + i;
    const peer = await TestPeer.start({ ocid, name: `Bench merchant ${ocid}`, settlement: { currencies: ["USD"], accepts: [] } });
    peer.route("POST", "/transfer/webhook", (req) => {
      const at = performance.now();
      const proof = req.json?.proof;
      const ref = String(proof?.to?.reference ?? "");
      webhookArrivals.set(ref, at);
      webhookWaiters.get(ref)?.(at);
      webhookWaiters.delete(ref);
      const h = (n: string) => req.headers.get(n) ?? "";
      const canonical = canonicalRequestKit(h("x-oc-id"), h("x-oc-timestamp"), h("x-oc-nonce"), req.method, req.path, req.rawBody);
      const authentic = verifyStringKit(canonical, h("x-oc-signature"), gatewayPublicKeyHex);
      webhookStats.received++;
      if (!authentic) webhookStats.unauthentic++;
      return { body: { status: authentic ? "accepted" : "rejected", txid: proof?.txid } };
    });
    out.push({ peer, ocid });
  }
  return out;
}

/** Resolves with the arrival time of the proof for this merchant order id (rejects after timeoutMs). */
export function waitForWebhook(orderId: string, timeoutMs = 10_000): Promise<number> {
  const seen = webhookArrivals.get(orderId);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (webhookWaiters.delete(orderId), reject(new Error(`no webhook for ${orderId} within ${timeoutMs} ms`))), timeoutMs);
    webhookWaiters.set(orderId, (at) => (clearTimeout(t), resolve(at)));
  });
}

/** A real submit (§9.4): a fresh order signed by the merchant, and the request signed over its exact body bytes. */
export function signSubmit(m: Merchant, sessionId: string, gatewayOcid: number, basePath = "/opencharge"): SignedSubmit {
  const order = makeOrder(m.ocid, { accepts: [gatewayOcid] });
  const body = JSON.stringify({ order, signature: m.peer.signOrder(order), urls: {} });
  const path = `${basePath}/orders/create/${sessionId}`;
  const headers = { Accept: "application/json", ...m.peer.signedRequestHeaders("POST", path, body) };
  return { sessionId, orderId: String(order.id), path, headers, body };
}

export async function stopMerchants(ms: Merchant[]): Promise<void> {
  await Promise.all(ms.map((m) => m.peer.stop()));
}
