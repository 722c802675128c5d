import { TestPeer, makeOrder } from "../peers/kit";
import type { PortTestGateway } from "./gateway";

/** A merchant peer with its own key, registered in the gateway's directory and trusting the gateway's key. */
export async function startMerchant(tg: PortTestGateway, ocid = 500, opts: Parameters<typeof TestPeer.start>[0] extends infer O ? Partial<O> : never = {}) {
  const peer = await TestPeer.start({ ocid, name: `Merchant ${ocid}`, ...opts });
  peer.trustGateway(tg.gw.config.ocid, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(ocid, peer.endpoint);
  return peer;
}

export function submitOrder(
  peer: TestPeer,
  tg: PortTestGateway,
  sessionId: string,
  order: Record<string, unknown>,
  opts: { form?: "deep" | "replacer"; signature?: string; urls?: unknown; timestamp?: number } = {},
) {
  const body = { order, signature: opts.signature ?? peer.signOrder(order, opts.form ?? "deep"), urls: opts.urls ?? {} };
  return peer.call(tg.url, "POST", `/opencharge/orders/create/${sessionId}`, body, { timestamp: opts.timestamp });
}

export function orderFor(peer: TestPeer, tg: PortTestGateway, overrides: Record<string, unknown> = {}) {
  return makeOrder(peer.ocid, { accepts: [tg.gw.config.ocid], ...overrides });
}
