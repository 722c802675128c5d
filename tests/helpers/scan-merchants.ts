// Merchants that show codes, as in the docs' examples: a POS that displays a QR for a signed order (served by its
// own GET /orders/:id) and a vending machine with a permanent inventory QR (GET /inventory, POST /orders/create).
// Each has its own key, signs its own orders, and verifies our proofs at /transfer/webhook with its own code.
import { makeOrder, TestPeer, type PeerReply, type PeerRequest } from "../peers/kit";
import type { PortTestGateway } from "./gateway";
import { startMerchant } from "./merchant";

export type Signed = { order: Record<string, unknown>; signature: string; urls: Record<string, unknown> };
export type WebhookSeen = { proof: any; signature: string; verified: "deep" | "replacer" | null; authentic: boolean; known: boolean };

/** The merchant side of /transfer/webhook: our proof verified with the merchant's own code and matched to its orders. */
function acceptProofs(peer: TestPeer, tg: PortTestGateway, expected: (reference: string) => { amount: string; currency: string } | undefined) {
  const seen: WebhookSeen[] = [];
  peer.route("POST", "/transfer/webhook", (req) => {
    const { proof, signature } = req.json ?? {};
    const verified = proof && typeof signature === "string" ? peer.verifyProof(proof, signature, tg.gw.key.publicKeyHex) : null;
    const want = proof?.to?.ocid === peer.ocid && typeof proof?.to?.reference === "string" ? expected(proof.to.reference) : undefined;
    const known = !!want && want.amount === proof.amount && want.currency === proof.currency && proof.issuer === tg.gw.config.ocid;
    seen.push({ proof, signature, verified, authentic: req.authentic, known });
    if (!req.authentic || verified !== "deep" || !known) return { body: { status: "rejected", txid: proof?.txid, message: "proof not for one of our orders" } };
    return { body: { status: "accepted", txid: proof.txid } };
  });
  return seen;
}

const cents = (s: string) => BigInt(s.replace(".", ""));
const dollars = (c: bigint) => `${c / 100n}.${String(c % 100n).padStart(2, "0")}`;

/** "POS with QR Code Display": the till creates an order, signs it and shows a QR pointing at it. */
export async function startPosMerchant(tg: PortTestGateway, ocid = 510, name = "Corner Café") {
  const peer = await startMerchant(tg, ocid, { name, settlement: { currencies: ["USD"], accepts: [tg.gw.config.ocid] } });
  const shown = new Map<string, Signed>();
  /** Replies that replace the normal one for an order id (tampered, huge, slow…). */
  const special = new Map<string, (req: PeerRequest) => PeerReply>();
  peer.route("GET", "/orders/:orderId", (req, p) => {
    if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "unsigned" } } };
    const s = special.get(p.orderId!);
    if (s) return s(req);
    const o = shown.get(p.orderId!);
    return o ? { body: o } : { status: 404, body: { error: { code: "ORDER_NOT_FOUND", message: "no such order" } } };
  });
  const stickers = new Map<string, { amount: string; currency: string }>();
  const webhooks = acceptProofs(peer, tg, (ref) => {
    const o = shown.get(ref)?.order;
    return o ? { amount: o.amount as string, currency: o.currency as string } : stickers.get(ref) ?? (ref.startsWith("pay_") ? stickers.get("*") : undefined);
  });
  return {
    peer,
    webhooks,
    shown,
    special,
    /** Sticker payments this merchant expects (by ref; "*" for refs the wallet generates). */
    stickers,
    /** Create and sign an order and return the QR text the display shows. */
    show(overrides: Record<string, unknown> = {}, qrExpiresAt?: number | null) {
      const order = makeOrder(ocid, { accepts: [tg.gw.config.ocid], ...overrides });
      const signed: Signed = { order, signature: peer.signOrder(order), urls: {} };
      shown.set(order.id as string, signed);
      const expiresAt = qrExpiresAt === undefined ? (order.expiresAt as number) : qrExpiresAt;
      return { order, signed, qr: JSON.stringify({ ocid, order: `${peer.endpoint}/orders/${order.id}`, expiresAt }) };
    },
    orderGets: () => peer.received.filter((r) => r.method === "GET" && r.path.includes("/orders/")),
  };
}

export type VendingInventory = { name: string; currency: string; items: Record<string, unknown>[] };

export const SNACKS: VendingInventory = {
  name: "Snack machine #4",
  currency: "USD",
  items: [
    { id: "cola", name: "Cola 330 ml", price: "1.50", min_qty: 1, max_qty: 3 },
    { id: "chips", name: "Salted chips", price: "2.25", max_qty: 2 },
    { id: "water", name: "Still water", price: "1.00", min_qty: 2, max_qty: 6 },
    { id: "gum", name: "Mint gum", price: "0.75", available: false },
  ],
};

/** "Vending machine": a permanent inventory QR; the wallet asks for a signed order of the picked items. */
export async function startVendingMerchant(tg: PortTestGateway, ocid = 530, name = "Vendo Snacks") {
  const peer = await startMerchant(tg, ocid, { name, settlement: { currencies: ["USD"], accepts: [tg.gw.config.ocid] } });
  const inventory: VendingInventory = structuredClone(SNACKS);
  const created = new Map<string, Signed>();
  /** Misbehaviour for the next /orders/create answers: applied to the signed reply before it is sent. */
  let misbehave: ((s: Signed) => PeerReply) | null = null;
  peer.route("GET", "/inventory", (req) => (req.authentic ? { body: inventory } : { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: "unsigned" } } }));
  peer.route("POST", "/orders/create", (req) => {
    if (!req.authentic || req.headers.get("x-oc-id") !== String(tg.gw.config.ocid))
      return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "not our gateway" } } };
    const picks = req.json?.items as { id: string; quantity: number }[] | undefined;
    if (!Array.isArray(picks) || picks.length === 0) return { status: 400, body: { error: { code: "INVALID_REQUEST", message: "items required" } } };
    let total = 0n;
    const items: Record<string, unknown>[] = [];
    for (const p of picks) {
      const it = inventory.items.find((i) => i.id === p.id);
      if (!it || it.available === false) return { status: 400, body: { error: { code: "INVALID_REQUEST", message: `unknown item ${p.id}` } } };
      total += cents(it.price as string) * BigInt(p.quantity);
      items.push({ id: it.id, name: it.name, quantity: p.quantity, price: it.price });
    }
    const now = Math.floor(Date.now() / 1000);
    const order = { id: `vend_${created.size + 1}_${Math.random().toString(16).slice(2, 8)}`, ocid, amount: dollars(total), currency: inventory.currency, items, createdAt: now, expiresAt: now + 300, accepts: [tg.gw.config.ocid] };
    const signed: Signed = { order, signature: peer.signOrder(order), urls: {} };
    created.set(order.id, signed);
    return misbehave ? misbehave(signed) : { body: signed };
  });
  const webhooks = acceptProofs(peer, tg, (ref) => {
    const o = created.get(ref)?.order;
    return o ? { amount: o.amount as string, currency: o.currency as string } : undefined;
  });
  return {
    peer,
    inventory,
    created,
    webhooks,
    qr: JSON.stringify({ ocid, inventory: `${peer.endpoint}/inventory`, expiresAt: null }),
    misbehave(f: ((s: Signed) => PeerReply) | null) {
      misbehave = f;
    },
    creates: () => peer.received.filter((r) => r.method === "POST" && r.path.endsWith("/orders/create")),
  };
}
