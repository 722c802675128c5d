// A merchant written the way the public docs write one — `pos-scanner.js` (scan the wallet's QR, sign and submit
// the order) and `webhook-handler.js` (verify the proof, mark the order paid) over one `signing.js` (./signing.ts).
// Deliberately NOT the test kit in tests/peers: no SPEC-aware helpers, only what the docs show, including their
// replacer-form canonicalisation `JSON.stringify(x, Object.keys(x).sort())` and their error answers.
import { createHash, randomBytes } from "node:crypto";
import type { Signer } from "./signing";

export type Style = {
  /** How the merchant canonicalises what it signs and verifies: the docs' replacer form, or the SDK's deep form. */
  canon: "replacer" | "deep";
  /** Where it reads a gateway's key and endpoint: `metadata.config.*` (docs) or `metadata.publicKey` (SDK). */
  metadata: "nested" | "flat";
  /** The docs' POS passes item prices as numbers. */
  numericPrices?: boolean;
};

export type BookEntry = { amount: string; currency: string; status: "pending" | "paid"; txid?: string };
export type WebhookAnswer = { status: number; body: any };

const sortedReplacer = (x: Record<string, unknown>) => JSON.stringify(x, Object.keys(x).sort());
/** The implementation guide's canonicaliser: sorted keys at every depth. */
function deepCanon(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(deepCanon).join(",") + "]";
  const o = v as Record<string, unknown>;
  return "{" + Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => JSON.stringify(k) + ":" + deepCanon(o[k])).join(",") + "}";
}
const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

export class DocsMerchant {
  books = new Map<string, BookEntry>();
  answers: WebhookAnswer[] = [];
  private gateways = new Map<number, { url: string; publicKey?: string; endpoint?: string }>();
  private server!: ReturnType<typeof Bun.serve>;
  endpoint = "";

  constructor(
    readonly ocid: number,
    readonly name: string,
    readonly signer: Signer,
    readonly style: Style,
  ) {}

  canonical(x: Record<string, unknown>): string {
    return this.style.canon === "replacer" ? sortedReplacer(x) : deepCanon(x);
  }

  /** The merchant's own small directory: the gateways whose users it serves. */
  knowGateway(ocid: number, metadataBase: string) {
    this.gateways.set(ocid, { url: metadataBase });
  }

  async start(): Promise<this> {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => this.route(req) });
    this.endpoint = `http://127.0.0.1:${this.server.port}/opencharge`;
    const config = { publicKey: this.signer.publicKey, endpoint: this.endpoint, capabilities: ["transfer.webhook"], settlement: { currencies: ["USD"], accepts: [200] } };
    this.metadata = { opencharge: "0.1", name: this.name, config, signature: await this.signer.sign(this.canonical(config)) };
    return this;
  }
  private metadata: Record<string, unknown> = {};

  stop() {
    this.server.stop(true);
    this.signer.close?.();
  }

  private async route(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/opencharge/metadata.json") return Response.json(this.metadata);
    if (req.method === "POST" && path === "/opencharge/transfer/webhook") {
      const raw = await req.text();
      const answer = await this.webhookHandler(req, path, raw);
      this.answers.push(answer);
      return Response.json(answer.body, { status: answer.status });
    }
    return Response.json({ error: { code: "NOT_FOUND", message: "Not found" } }, { status: 404 });
  }

  private async gatewayKey(ocid: number): Promise<{ publicKey: string; endpoint: string }> {
    const g = this.gateways.get(ocid);
    if (!g) throw new Error(`unknown gateway ${ocid}`);
    if (!g.publicKey) {
      const meta = (await (await fetch(g.url + "/metadata.json")).json()) as any;
      const src = this.style.metadata === "flat" ? meta : meta.config;
      // The SDK's `hexToBytes(metadata.publicKey)`: a missing key makes a bogus one that throws later.
      if (typeof src?.publicKey !== "string" || src.publicKey.length !== 128) throw new Error(`bad public key in metadata of ${ocid}`);
      g.publicKey = src.publicKey;
      g.endpoint = src.endpoint;
    }
    return { publicKey: g.publicKey!, endpoint: g.endpoint! };
  }

  // ------------------------------------------------------------------------- pos-scanner.js
  /** Scans the wallet's QR text, signs an order for it and submits it to the gateway. */
  async scan(qrText: string, amount = "4.50", tamper?: (order: any) => void): Promise<{ status: number; json: any; orderId: string }> {
    const qr = JSON.parse(qrText) as { ocid: number; order: string; expiresAt: number };
    const { endpoint } = await this.gatewayKey(qr.ocid);
    if (!qr.order.startsWith(endpoint + "/")) throw new Error("QR order URL is not under the gateway's endpoint");
    const now = Math.floor(Date.now() / 1000);
    const order = {
      id: "ord_" + randomBytes(6).toString("hex"),
      ocid: this.ocid,
      amount,
      currency: "USD",
      items: [{ id: "item_001", name: "Coffee", quantity: 1, price: this.style.numericPrices ? Number(amount) : amount }],
      createdAt: now,
      expiresAt: now + 600,
      accepts: [qr.ocid],
    };
    const signature = await this.signer.sign(this.canonical(order));
    tamper?.(order); // tests only: a change after signing, as an attacker on the way would make
    const body = JSON.stringify({ order, signature, urls: {} });
    const timestamp = String(now);
    const nonce = randomBytes(16).toString("hex");
    const path = new URL(qr.order).pathname;
    const toSign = [String(this.ocid), timestamp, nonce, "POST", path, sha256Hex(body)].join("\n");
    const res = await fetch(qr.order, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-oc-id": String(this.ocid),
        "x-oc-timestamp": timestamp,
        "x-oc-nonce": nonce,
        "x-oc-signature": await this.signer.sign(toSign),
      },
      body,
    });
    const json = await res.json().catch(() => null);
    if (res.status === 200) this.books.set(order.id, { amount, currency: "USD", status: "pending" });
    return { status: res.status, json, orderId: order.id };
  }

  // ------------------------------------------------------------------------- webhook-handler.js
  private async webhookHandler(req: Request, path: string, raw: string): Promise<WebhookAnswer> {
    try {
      const { proof, signature } = JSON.parse(raw);
      const gatewayOcid = Number(req.headers.get("x-oc-id"));
      const { publicKey } = await this.gatewayKey(gatewayOcid);
      const toSign = [req.headers.get("x-oc-id"), req.headers.get("x-oc-timestamp"), req.headers.get("x-oc-nonce"), "POST", path, sha256Hex(raw)].join("\n");
      if (!(await this.signer.verify(toSign, req.headers.get("x-oc-signature") ?? "", publicKey)))
        return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: "Invalid request signature" } } };
      if (proof.issuer !== gatewayOcid) return { status: 400, body: { error: { code: "INVALID_PROOF", message: "Issuer mismatch" } } };
      if (!(await this.signer.verify(this.canonical(proof), signature, publicKey)))
        return { status: 400, body: { error: { code: "PROOF_SIGNATURE_INVALID", message: "Invalid proof signature" } } };
      const entry = this.books.get(proof.to?.reference);
      if (!entry || proof.to.ocid !== this.ocid || proof.amount !== entry.amount || proof.currency !== entry.currency)
        return { status: 400, body: { error: { code: "INVALID_PROOF", message: "Proof does not match an open order" } } };
      entry.status = "paid";
      entry.txid = proof.txid;
      return { status: 200, body: { status: "accepted", txid: proof.txid } };
    } catch (e) {
      // The docs' handler: whatever throws while verifying is a 500.
      return { status: 500, body: { error: { code: "VERIFICATION_ERROR", message: String((e as Error).message ?? e) } } };
    }
  }
}
