// A KYC provider peer (issue 21), written the way the docs' KYC Provider API describes it, on the independent
// peer kit (its own key, its own canonical JSON and signing; nothing from src/):
//   GET  /kyc/grant/{gatewayOcid}?grants&user_ocid&callback_url&state  → a consent page (HTML) whose buttons send
//        the browser back to callback_url?status=granted|partial|denied&state=…
//   POST /kyc/validate {user_ocid, grants}  → {user_ocid, grants: {name: status}}   (signed request and answer)
//   POST /kyc/data     {user_ocid, grants}  → {user_ocid, data, issued_at, expires_at, signature}
// The data signature is over `data` in the docs' replacer form by default (nested fields unsigned).
import { TestPeer, canonDeepKit, canonReplacerKit, signStringKit } from "../peers/kit";
import type { PortTestGateway } from "./gateway";

export type Decision = {
  /** grant → status; absent grants are denied */
  statuses: Record<string, string>;
  /** `data` per grant (what the provider knows); default: `true` for each granted grant */
  data?: Record<string, unknown>;
  expiresIn?: number;
  /** how the data signature is made: the docs' replacer form, the deep form of the envelope, or a forged one */
  sign?: "replacer" | "envelope" | "wrong-key" | "tampered";
  /** how validate lists statuses */
  validateShape?: "map" | "objects";
};

export class KycProvider {
  private decisions = new Map<number, Decision>();
  /** what the consent page decides when a button is clicked (browser tests) */
  pageDecision: (grants: string[], button: string) => Decision = (grants, button) => ({
    statuses: Object.fromEntries(grants.map((g, i) => [g, button === "granted" || (button === "partial" && i === 0) ? "granted" : "denied"])),
  });
  constructor(readonly peer: TestPeer) {
    peer.route("GET", "/kyc/grant/:ocid", (req) => this.grantPage(req.path));
    peer.route("POST", "/kyc/validate", (req) => {
      if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "unsigned" } } };
      const d = this.decisions.get(req.json?.user_ocid);
      const asked: string[] = req.json?.grants ?? [];
      const status = (g: string) => d?.statuses[g] ?? "denied";
      const grants = d?.validateShape === "objects"
        ? asked.map((g) => ({ grant: g, status: status(g), expires_at: Math.floor(Date.now() / 1000) + 3600 }))
        : Object.fromEntries(asked.map((g) => [g, status(g)]));
      return { body: { user_ocid: req.json?.user_ocid, grants } };
    });
    peer.route("POST", "/kyc/data", (req) => {
      if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "unsigned" } } };
      const userOcid = req.json?.user_ocid;
      const d = this.decisions.get(userOcid);
      if (!d) return { status: 404, body: { error: { code: "NOT_FOUND", message: "no consent" } } };
      const granted = (req.json?.grants as string[]).filter((g) => d.statuses[g] === "granted");
      const data: Record<string, unknown> = {};
      for (const g of granted) data[g] = d.data?.[g] ?? true;
      const now = Math.floor(Date.now() / 1000);
      const env: Record<string, unknown> = { user_ocid: userOcid, data, issued_at: now, expires_at: now + (d.expiresIn ?? 86400) };
      const sign = d.sign ?? "replacer";
      const message = sign === "envelope" ? canonDeepKit(env) : canonReplacerKit(data);
      const key = sign === "wrong-key" ? "11".repeat(32) : this.peer.privateKeyHex;
      const signature = signStringKit(message, key);
      if (sign === "tampered") data[granted[0]!] = "someone else";
      return { body: { ...env, signature } };
    });
  }

  static async start(tg: PortTestGateway, ocid = 900): Promise<KycProvider> {
    const peer = await TestPeer.start({ ocid, name: `KYC provider ${ocid}`, capabilities: ["kyc.grant", "kyc.validate", "kyc.data"] });
    peer.trustGateway(tg.gw.config.ocid, tg.gw.key.publicKeyHex);
    await tg.gw.directory.add(ocid, peer.endpoint);
    return new KycProvider(peer);
  }

  decide(userOcid: number, d: Decision): void {
    this.decisions.set(userOcid, d);
  }

  /** The consent page: what the user sees at the provider. Its links carry the decision back to the gateway. */
  private grantPage(path: string) {
    const q = new URL("http://x" + path).searchParams;
    const grants = (q.get("grants") ?? "").split(",").filter(Boolean);
    const userOcid = Number(q.get("user_ocid"));
    const back = (status: string) => {
      const u = new URL(q.get("callback_url") ?? "");
      u.searchParams.set("status", status);
      u.searchParams.set("state", q.get("state") ?? "");
      return u.toString();
    };
    const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    const button = (status: string, label: string) =>
      `<form method="post" action="${esc(this.peer.endpoint)}/consent"><input type="hidden" name="to" value="${esc(back(status))}">` +
      `<input type="hidden" name="user" value="${userOcid}"><input type="hidden" name="grants" value="${esc(grants.join(","))}">` +
      `<button name="button" value="${status}">${label}</button></form>`;
    const html = `<!doctype html><html lang="en"><head><title>KYC provider</title><link rel="icon" href="data:,"></head><body><h1>Share your verification</h1>` +
      `<p id="asks">Gateway asks for: ${esc(grants.join(", "))}</p>` + button("granted", "Share all") + button("partial", "Share some") + button("denied", "Deny") + `</body></html>`;
    this.peer.route("POST", "/consent", async (req) => {
      const form = new URLSearchParams(new TextDecoder().decode(req.rawBody));
      const chosen = form.get("button") ?? "denied";
      this.decide(Number(form.get("user")), this.pageDecision((form.get("grants") ?? "").split(",").filter(Boolean), chosen));
      return { status: 303, headers: { location: form.get("to")! }, rawBody: "", sign: false };
    });
    return { status: 200, rawBody: html, headers: { "content-type": "text/html; charset=utf-8" }, sign: false };
  }

  stop = () => this.peer.stop();
}
