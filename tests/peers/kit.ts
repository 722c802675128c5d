// Test peer kit: small real HTTP servers on 127.0.0.1 that play an independent Opencharge peer
// (merchant, merchant gateway, settlement provider), each with its own secp256k1 key.
//
// Independence is the point: everything here (canonical JSON, request/response signing, signature
// verification) is written directly on @noble/secp256k1 + @noble/hashes and imports NOTHING from src/.
// If the gateway's protocol code had a bug, a shared implementation would hide it; this one will not.
//
// Spec references: SPEC.md §2.3 (metadata), §3 (crypto), §4 (request/response auth), §5 (canonical JSON),
// §9.8/§12.7/§12.8/§13/§14 (what peers send and receive).
import * as secp from "@noble/secp256k1";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";

// §3.4 pitfall 1: synchronous sign/verify need these hooks (same values the gateway sets; idempotent).
secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (k: Uint8Array, m: Uint8Array) => hmac(sha256, k, m);

// ---------------------------------------------------------------------------------------------------
// Bytes / hex / hashing
// ---------------------------------------------------------------------------------------------------

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? enc.encode(data) : data;
}

function hexOf(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function bytesOfHex(h: string): Uint8Array {
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error("kit: bad hex");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of a string, or of raw bytes. */
export function sha256HexKit(data: Uint8Array | string): string {
  return hexOf(sha256(toBytes(data)));
}

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

function randomHex(bytes: number): string {
  return hexOf(crypto.getRandomValues(new Uint8Array(bytes)));
}

// ---------------------------------------------------------------------------------------------------
// Canonical JSON (§5)
// ---------------------------------------------------------------------------------------------------

function isOmitted(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol";
}

/**
 * §5.1 deep form: recursive, object keys (whose value is not undefined) sorted by the default JS sort
 * (UTF-16 code units), scalars exactly as JSON.stringify writes them, no whitespace.
 */
export function canonDeepKit(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
    case "string":
    case "number": // JSON.stringify: shortest form, -0 → 0, non-finite → null
      return JSON.stringify(v);
    case "bigint":
      throw new TypeError("kit canon: bigint is not JSON");
    case "undefined":
    case "function":
    case "symbol":
      throw new TypeError("kit canon: value has no JSON form");
  }
  if (Array.isArray(v)) {
    return "[" + v.map((e) => (isOmitted(e) ? "null" : canonDeepKit(e))).join(",") + "]";
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => !isOmitted(o[k])).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonDeepKit(o[k])).join(",") + "}";
}

/** §5.2 replacer form (the docs' samples): JSON.stringify(x, Object.keys(x).sort()). */
export function canonReplacerKit(v: Record<string, unknown>): string {
  return JSON.stringify(v, Object.keys(v).sort());
}

// ---------------------------------------------------------------------------------------------------
// Signatures (§3)
// ---------------------------------------------------------------------------------------------------

/** 130 lowercase hex r‖s‖v, v = 27 + recovery id (§3.2), over SHA-256(UTF-8(msg)). */
export function signStringKit(msg: string, skHex: string): string {
  const rec = secp.sign(sha256(enc.encode(msg)), bytesOfHex(skHex), { prehash: false, format: "recovered" });
  // §3.4 pitfall 3: noble puts the recovery byte FIRST.
  return hexOf(rec.subarray(1)) + (27 + rec[0]!).toString(16);
}

/** Parse a public key given as 128 hex (x‖y), 130 hex (04‖x‖y) or 66 hex (02/03‖x). Returns 65 bytes 04‖x‖y. */
export function parsePublicKeyKit(pubHex: string): Uint8Array | null {
  try {
    let b: Uint8Array;
    if (/^[0-9a-fA-F]{128}$/.test(pubHex)) b = bytesOfHex("04" + pubHex);
    else if (/^04[0-9a-fA-F]{128}$/.test(pubHex) || /^0[23][0-9a-fA-F]{64}$/.test(pubHex)) b = bytesOfHex(pubHex);
    else return null;
    const p = secp.Point.fromBytes(b); // throws when not on the curve
    return p.toBytes(false);
  } catch {
    return null;
  }
}

/**
 * STRICT verifier for what the gateway emits (§3.2): exactly 130 lowercase hex, v ∈ {1b, 1c}, ECDSA valid
 * over SHA-256(msg) (verified with lowS:false), AND v must be the true recovery id (27 + rec).
 * Compact/DER/uppercase/v=00 encodings — which the gateway must *accept* but never *emit* — are rejected here.
 */
export function verifyStringKit(msg: string, sigHex: string, pubHex: string): boolean {
  if (typeof sigHex !== "string" || !/^[0-9a-f]{128}(1b|1c)$/.test(sigHex)) return false;
  const pub = parsePublicKeyKit(pubHex);
  if (!pub) return false;
  const rs = bytesOfHex(sigHex.slice(0, 128));
  const v = parseInt(sigHex.slice(128), 16);
  const h = sha256(enc.encode(msg));
  try {
    if (!secp.verify(rs, h, pub, { prehash: false, lowS: false })) return false;
    const recSig = new Uint8Array(65);
    recSig[0] = v - 27;
    recSig.set(rs, 1);
    const recovered = secp.recoverPublicKey(recSig, h, { prehash: false, isCompressed: false });
    return hexOf(recovered) === hexOf(pub);
  } catch {
    return false;
  }
}

function publicKeyHexOf(skHex: string): string {
  return hexOf(secp.getPublicKey(bytesOfHex(skHex), false).subarray(1));
}

function newPrivateKeyHex(): string {
  return hexOf(secp.utils.randomSecretKey());
}

// ---------------------------------------------------------------------------------------------------
// Canonical request / response strings (§4.2, §4.5)
// ---------------------------------------------------------------------------------------------------

export function canonicalRequestKit(ocid: number | string, ts: number | string, nonce: string, method: string, path: string, rawBody: Uint8Array | string): string {
  return `${ocid}\n${ts}\n${nonce}\n${method.toUpperCase()}\n${path}\n${sha256HexKit(rawBody)}`;
}

export function canonicalResponseKit(ocid: number | string, ts: number | string, status: number, rawBody: Uint8Array | string): string {
  return `${ocid}\n${ts}\n${status}\n${sha256HexKit(rawBody)}`;
}

// ---------------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------------

/**
 * A valid §7.1 order. Overrides are applied on top; an override whose value is `undefined` removes the field.
 */
export function makeOrder(merchantOcid: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSec();
  const order: Record<string, unknown> = {
    id: "ord_" + randomHex(12),
    ocid: merchantOcid,
    reference: "POS-001",
    amount: "25.00",
    currency: "USD",
    items: [
      { id: "item_001", name: "Coffee", quantity: 2, price: "5.00" },
      { id: "item_002", name: "Sandwich", quantity: 1, price: "15.00" },
    ],
    createdAt: now,
    expiresAt: now + 3600,
    accepts: [merchantOcid],
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete order[k];
    else order[k] = v;
  }
  return order;
}

// ---------------------------------------------------------------------------------------------------
// The peer
// ---------------------------------------------------------------------------------------------------

export type PeerRequest = {
  method: string;
  /** wire target incl. query */
  path: string;
  headers: Headers;
  rawBody: Uint8Array;
  /** parsed body, or undefined when empty / not JSON */
  json: any;
  /** X-OC-* headers verified against a trusted key (see trustGateway) */
  authentic: boolean;
  authError?: string;
  /** when the request arrived (ms) */
  receivedAt: number;
};

export type PeerReply = {
  status?: number;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** default true: add X-OC-ID/Timestamp/Signature response headers per §4.5 */
  sign?: boolean;
  /** close the socket without sending any response */
  dropConnection?: boolean;
};

export type MetadataForm = "nested" | "flat" | "nested-unsigned" | "nested-bad-signature" | "nested-replacer-signed";

export type TestPeerOptions = {
  ocid: number;
  name?: string;
  capabilities?: string[];
  settlement?: { currencies?: string[]; accepts?: number[] };
  metadataForm?: MetadataForm;
  privateKeyHex?: string;
  /** default "/opencharge" */
  mountPath?: string;
};

export type CallOptions = {
  nonce?: string;
  timestamp?: number;
  /** sign a different path than sent (e.g. route-relative) */
  signPath?: string;
  /** mutate the final header set (after signing) before sending */
  tamper?: (h: Record<string, string>) => void;
  headers?: Record<string, string>;
  /** override X-OC-Signature */
  signature?: string;
  /** expected X-OC-ID of the response (default: the last ocid given to trustGateway) */
  expectOcid?: number;
  /** abort after this many ms (fetch rejects) */
  timeoutMs?: number;
};

export type CallResult = {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  /** null if no X-OC-* response headers or the gateway key is unknown */
  responseSignatureValid: boolean | null;
  /** why responseSignatureValid is false/null */
  responseSignatureError?: string;
  /** exactly what was sent */
  sent: { url: string; headers: Record<string, string>; rawBody: string };
};

export type IssuedProof = { proof: Record<string, unknown>; signature: string };

type Handler = (req: PeerRequest, params: Record<string, string>) => PeerReply | Promise<PeerReply>;
type Route = { method: string; segments: string[]; handler: Handler };

const RE_OCID = /^[1-9][0-9]{0,15}$/;
const RE_TS = /^[1-9][0-9]{0,10}$/;
const RE_NONCE = /^[A-Za-z0-9._:-]{1,128}$/;

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export class TestPeer {
  readonly ocid: number;
  readonly name: string;
  readonly mountPath: string;
  readonly capabilities: string[];
  readonly settlement: { currencies: string[]; accepts: number[] };
  readonly metadataForm: MetadataForm;
  private _sk: string;
  private _pk: string;
  private server: ReturnType<typeof Bun.serve> | null = null;
  private _url = "";
  private routes: Route[] = [];
  private trusted = new Map<number, Uint8Array>();
  private trustedHex = new Map<number, string>();
  private gatewayOcid: number | null = null;
  private seenNonces = new Map<string, number>(); // `${ocid}:${nonce}` → expiry (s)
  private metadataDown = false;
  private metadataOverride: { doc: unknown } | null = null;
  private waiters: Array<{ pred: (r: PeerRequest) => boolean; resolve: (r: PeerRequest) => void }> = [];

  /** number of GET <mount>/metadata.json requests (including those answered 503 while down) */
  metadataFetches = 0;
  /** every request except metadata fetches, in arrival order */
  received: PeerRequest[] = [];

  private constructor(opts: TestPeerOptions) {
    if (!Number.isSafeInteger(opts.ocid) || opts.ocid <= 0) throw new Error("kit: ocid must be a positive safe integer");
    this.ocid = opts.ocid;
    this.name = opts.name ?? `Test peer ${opts.ocid}`;
    this.capabilities = opts.capabilities ?? ["transfer.create", "payment.create", "payment.settle", "verify.txid", "transfer.webhook"];
    this.settlement = { currencies: opts.settlement?.currencies ?? ["USD"], accepts: opts.settlement?.accepts ?? [] };
    this.metadataForm = opts.metadataForm ?? "nested";
    const mp = opts.mountPath ?? "/opencharge";
    this.mountPath = mp === "/" ? "" : mp.replace(/\/+$/, "");
    this._sk = (opts.privateKeyHex ?? newPrivateKeyHex()).toLowerCase();
    this._pk = publicKeyHexOf(this._sk);
  }

  static async start(opts: TestPeerOptions): Promise<TestPeer> {
    const peer = new TestPeer(opts);
    peer.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0, // delayMs replies may be long; never let Bun cut them
      fetch: (req) => peer.handle(req),
      error: () => new Response(errorBody("INTERNAL_ERROR", "Internal error"), { status: 500, headers: { "content-type": "application/json; charset=utf-8" } }),
    });
    peer._url = `http://127.0.0.1:${peer.server.port}`;
    return peer;
  }

  /** A peer that is not listening (no server): for its key and signing helpers only. */
  static offline(opts: TestPeerOptions): TestPeer {
    return new TestPeer(opts);
  }

  get privateKeyHex(): string {
    return this._sk;
  }
  get publicKeyHex(): string {
    return this._pk;
  }
  get url(): string {
    return this._url;
  }
  get endpoint(): string {
    return this._url + this.mountPath;
  }
  get metadataUrl(): string {
    return this.endpoint + "/metadata.json";
  }

  /** Replace the key pair (for key-rotation tests); the generated metadata follows. */
  rotateKey(privateKeyHex?: string): void {
    this._sk = (privateKeyHex ?? newPrivateKeyHex()).toLowerCase();
    this._pk = publicKeyHexOf(this._sk);
  }

  setMetadataDown(down: boolean): void {
    this.metadataDown = down;
  }

  /** Serve this exact document (JSON-serialised) instead of the generated one; `undefined` reverts. */
  setMetadata(doc: unknown): void {
    this.metadataOverride = doc === undefined ? null : { doc };
  }

  /** The signed `config` object of the nested form. */
  metadataConfig(): Record<string, unknown> {
    return {
      publicKey: this._pk,
      endpoint: this.endpoint,
      capabilities: [...this.capabilities],
      settlement: { currencies: [...this.settlement.currencies], accepts: [...this.settlement.accepts] },
    };
  }

  /** The metadata document this peer generates in the given form (default: its configured form). */
  metadataDocument(form: MetadataForm = this.metadataForm): Record<string, unknown> {
    const config = this.metadataConfig();
    if (form === "flat") {
      return { opencharge: "0.1", name: this.name, description: `${this.name} (flat metadata)`, ...config };
    }
    const doc: Record<string, unknown> = { opencharge: "0.1", name: this.name, config };
    if (form === "nested") doc.signature = signStringKit(canonDeepKit(config), this._sk);
    else if (form === "nested-replacer-signed") doc.signature = signStringKit(canonReplacerKit(config), this._sk);
    else if (form === "nested-bad-signature") {
      // a well-formed signature by the right key, but over a different config
      doc.signature = signStringKit(canonDeepKit({ ...config, endpoint: "https://evil.example/opencharge" }), this._sk);
    }
    // "nested-unsigned": no signature member
    return doc;
  }

  /**
   * Trust a gateway's key: inbound X-OC-* requests whose X-OC-ID is a trusted ocid are verified with its key,
   * and `call` checks response signatures against the most recently trusted ocid. May be called for several ocids.
   */
  trustGateway(ocid: number, publicKeyHex: string): void {
    const pk = parsePublicKeyKit(publicKeyHex);
    if (!pk) throw new Error("kit: trustGateway: unparseable public key");
    this.trusted.set(ocid, pk);
    this.trustedHex.set(ocid, publicKeyHex);
    this.gatewayOcid = ocid;
  }

  /** Register a handler. `routePath` is relative to the mount path and may contain `:param` segments. */
  route(method: string, routePath: string, handler: Handler): void {
    const segments = routePath.split("/").filter((s, i) => !(i === 0 && s === ""));
    // replace an existing route with the same method+pattern (tests often re-route mid-test)
    this.routes = this.routes.filter((r) => !(r.method === method.toUpperCase() && r.segments.join("/") === segments.join("/")));
    this.routes.push({ method: method.toUpperCase(), segments, handler });
  }

  /** Resolves with the first already-received or future request matching `pred`. */
  waitForRequest(pred: (r: PeerRequest) => boolean, timeoutMs = 10_000): Promise<PeerRequest> {
    const hit = this.received.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (r: PeerRequest) => { clearTimeout(t); resolve(r); } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`kit: peer ${this.ocid}: no matching request within ${timeoutMs} ms (received: ${this.received.map((r) => r.method + " " + r.path).join(", ") || "none"})`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Signing helpers
  // -------------------------------------------------------------------------------------------------

  signOrder(order: object, form: "deep" | "replacer" = "deep"): string {
    return this.signObject(order as Record<string, unknown>, form);
  }

  signProof(proof: object, form: "deep" | "replacer" = "deep"): string {
    return this.signObject(proof as Record<string, unknown>, form);
  }

  private signObject(o: Record<string, unknown>, form: "deep" | "replacer"): string {
    return signStringKit(form === "deep" ? canonDeepKit(o) : canonReplacerKit(o), this._sk);
  }

  /** Which canonical form the (strictly encoded, §3.2) signature verifies over, deep tried first; null if neither. */
  verifyProof(proof: object, signature: string, publicKeyHex: string): "deep" | "replacer" | null {
    const p = proof as Record<string, unknown>;
    if (verifyStringKit(canonDeepKit(p), signature, publicKeyHex)) return "deep";
    if (verifyStringKit(canonReplacerKit(p), signature, publicKeyHex)) return "replacer";
    return null;
  }

  /** Build and sign a proof issued by this peer (§13.1). */
  issueProof(
    fields: { to: { ocid: number; reference?: string }; amount: string; currency: string; from?: { ocid?: number; reference?: string }; txid?: string; timestamp?: number; memo?: string; [k: string]: unknown },
    form: "deep" | "replacer" = "deep",
  ): IssuedProof {
    const { txid, from, timestamp, ...rest } = fields;
    const proof: Record<string, unknown> = {
      txid: txid ?? "tx_" + randomHex(16),
      issuer: this.ocid,
      from: from ?? { ocid: this.ocid },
      ...rest, // may override issuer (e.g. for issuer-mismatch tests)
      timestamp: timestamp ?? nowSec(),
    };
    for (const k of Object.keys(proof)) if (proof[k] === undefined) delete proof[k];
    return { proof, signature: this.signProof(proof, form) };
  }

  signedRequestHeaders(method: string, path: string, rawBody: string, opts: { nonce?: string; timestamp?: number } = {}): Record<string, string> {
    const ts = String(opts.timestamp ?? nowSec());
    const nonce = opts.nonce ?? "req_" + randomHex(16);
    const h: Record<string, string> = {
      "X-OC-ID": String(this.ocid),
      "X-OC-Timestamp": ts,
      "X-OC-Nonce": nonce,
      "X-OC-Signature": signStringKit(canonicalRequestKit(this.ocid, ts, nonce, method, path, rawBody), this._sk),
    };
    if (rawBody.length > 0) h["Content-Type"] = "application/json";
    return h;
  }

  // -------------------------------------------------------------------------------------------------
  // Outbound
  // -------------------------------------------------------------------------------------------------

  /**
   * Signed request to a gateway, as a merchant POS / MG would send it. `body`: undefined ⇒ no body;
   * an object whose only member is a string `raw` ⇒ those bytes verbatim; anything else ⇒ JSON.stringify once.
   */
  async call(baseUrl: string, method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<CallResult> {
    const m = method.toUpperCase();
    let rawBody = "";
    if (body !== undefined) {
      const isRaw = typeof body === "object" && body !== null && !Array.isArray(body) && Object.keys(body).length === 1 && typeof (body as { raw?: unknown }).raw === "string";
      rawBody = isRaw ? (body as { raw: string }).raw : JSON.stringify(body);
    }
    const headers: Record<string, string> = {
      Accept: "application/json",
      ...this.signedRequestHeaders(m, opts.signPath ?? path, rawBody, { nonce: opts.nonce, timestamp: opts.timestamp }),
      ...(opts.headers ?? {}),
    };
    if (opts.signature !== undefined) headers["X-OC-Signature"] = opts.signature;
    opts.tamper?.(headers);
    const url = baseUrl.replace(/\/+$/, "") + path;
    const res = await fetch(url, {
      method: m,
      headers,
      body: rawBody.length > 0 ? rawBody : undefined,
      redirect: "manual",
      signal: opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = dec.decode(bytes);
    let json: any = undefined;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const { valid, error } = this.checkResponseSignature(res.status, res.headers, bytes, opts.expectOcid);
    return { status: res.status, headers: res.headers, text, json, responseSignatureValid: valid, responseSignatureError: error, sent: { url, headers, rawBody } };
  }

  private checkResponseSignature(status: number, h: Headers, body: Uint8Array, expectOcid?: number): { valid: boolean | null; error?: string } {
    const id = h.get("x-oc-id");
    const ts = h.get("x-oc-timestamp");
    const sig = h.get("x-oc-signature");
    if (id === null && ts === null && sig === null) return { valid: null, error: "no X-OC-* response headers" };
    const expected = expectOcid ?? this.gatewayOcid;
    if (expected === null) return { valid: null, error: "gateway key unknown (call trustGateway)" };
    const pk = this.trustedHex.get(expected);
    if (pk === undefined) return { valid: null, error: `no trusted key for ocid ${expected}` };
    if (id === null || ts === null || sig === null) return { valid: false, error: "incomplete X-OC-* response headers" };
    if (id !== String(expected)) return { valid: false, error: `X-OC-ID ${id} ≠ expected ${expected}` };
    if (!RE_TS.test(ts)) return { valid: false, error: "malformed X-OC-Timestamp" };
    if (Math.abs(nowSec() - Number(ts)) > 300) return { valid: false, error: "response timestamp outside ±300 s" };
    if (!verifyStringKit(canonicalResponseKit(id, ts, status, body), sig, pk)) return { valid: false, error: "response signature does not verify" };
    return { valid: true };
  }

  // -------------------------------------------------------------------------------------------------
  // Inbound
  // -------------------------------------------------------------------------------------------------

  private verifyInbound(method: string, target: string, h: Headers, raw: Uint8Array): { ok: boolean; error?: string } {
    const vals: Record<string, string | null> = {};
    for (const name of ["X-OC-ID", "X-OC-Timestamp", "X-OC-Nonce", "X-OC-Signature"]) {
      vals[name] = h.get(name);
      if (vals[name] === null) return { ok: false, error: `missing_header:${name}` };
    }
    const id = vals["X-OC-ID"]!;
    const ts = vals["X-OC-Timestamp"]!;
    const nonce = vals["X-OC-Nonce"]!;
    const sig = vals["X-OC-Signature"]!;
    if (!RE_OCID.test(id) || !Number.isSafeInteger(Number(id))) return { ok: false, error: "malformed_header:X-OC-ID" };
    if (!RE_TS.test(ts)) return { ok: false, error: "malformed_header:X-OC-Timestamp" };
    if (!RE_NONCE.test(nonce)) return { ok: false, error: "malformed_header:X-OC-Nonce" };
    const now = nowSec();
    if (Math.abs(now - Number(ts)) > 300) return { ok: false, error: "timestamp_expired" };
    const pkHex = this.trustedHex.get(Number(id));
    if (pkHex === undefined) return { ok: false, error: this.trusted.size === 0 ? "gateway key unknown (call trustGateway)" : `untrusted sender ${id}` };
    // Strict: the wire target, mount path included (§4.6 says signers sign the full wire path).
    if (!verifyStringKit(canonicalRequestKit(id, ts, nonce, method, target, raw), sig, pkHex)) return { ok: false, error: "invalid_signature" };
    for (const [k, exp] of this.seenNonces) if (exp <= now) this.seenNonces.delete(k);
    const key = `${id}:${nonce}`;
    if (this.seenNonces.has(key)) return { ok: false, error: "nonce_reused" };
    this.seenNonces.set(key, now + 600);
    return { ok: true };
  }

  private async handle(req: Request): Promise<Response> {
    const u = req.url;
    const target = u.slice(u.indexOf("/", u.indexOf("//") + 2)); // keeps a bare trailing "?" (§4.2)
    const q = target.indexOf("?");
    const pathname = q >= 0 ? target.slice(0, q) : target;
    const method = req.method.toUpperCase();

    if (method === "GET" && pathname === this.mountPath + "/metadata.json") {
      this.metadataFetches++;
      if (this.metadataDown) {
        return new Response(errorBody("UNAVAILABLE", "Metadata temporarily unavailable"), { status: 503, headers: { "content-type": "application/json; charset=utf-8" } });
      }
      const doc = this.metadataOverride ? this.metadataOverride.doc : this.metadataDocument();
      return new Response(JSON.stringify(doc), { status: 200, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" } });
    }

    const rawBody = new Uint8Array(await req.arrayBuffer());
    let json: any = undefined;
    if (rawBody.length > 0) {
      try {
        json = JSON.parse(dec.decode(rawBody));
      } catch {
        json = undefined;
      }
    }
    const auth = this.verifyInbound(method, target, req.headers, rawBody);
    const pr: PeerRequest = { method, path: target, headers: req.headers, rawBody, json, authentic: auth.ok, receivedAt: Date.now() };
    if (auth.error !== undefined) pr.authError = auth.error;
    this.received.push(pr);
    for (const w of [...this.waiters]) {
      if (w.pred(pr)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(pr);
      }
    }

    let reply: PeerReply;
    const match = this.match(method, pathname);
    if (!match) {
      reply = { status: 404, rawBody: errorBody("NOT_FOUND", "Not found") };
    } else {
      try {
        reply = await match.route.handler(pr, match.params);
      } catch (e) {
        console.error(`kit: peer ${this.ocid}: handler for ${method} ${target} threw:`, e);
        reply = { status: 500, rawBody: errorBody("INTERNAL_ERROR", "Internal error") };
      }
    }
    return this.respond(reply ?? {});
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } | null {
    if (this.mountPath !== "" && !pathname.startsWith(this.mountPath + "/")) return null;
    const rel = pathname.slice(this.mountPath.length);
    const segs = rel.split("/").slice(1);
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const pat = route.segments[i]!;
        const seg = segs[i]!;
        if (pat.startsWith(":")) {
          if (seg === "") { ok = false; break; }
          try {
            params[pat.slice(1)] = decodeURIComponent(seg);
          } catch {
            params[pat.slice(1)] = seg;
          }
        } else if (pat !== seg) {
          ok = false;
          break;
        }
      }
      if (ok) return { route, params };
    }
    return null;
  }

  private async respond(reply: PeerReply): Promise<Response> {
    if (reply.delayMs && reply.delayMs > 0) await Bun.sleep(reply.delayMs);
    if (reply.dropConnection) {
      // Erroring the body stream before any byte is written makes Bun reset the socket without sending
      // a status line: the client sees ECONNRESET. (error() with no reason keeps Bun from logging it.)
      return new Response(new ReadableStream({ pull(c) { c.error(); } }));
    }
    const status = reply.status ?? 200;
    const bodyStr = reply.rawBody !== undefined ? reply.rawBody : reply.body !== undefined ? JSON.stringify(reply.body) : "";
    const bodyBytes = enc.encode(bodyStr); // serialised once; these exact bytes are hashed and sent
    const headers: Record<string, string> = {};
    if (bodyBytes.length > 0) headers["content-type"] = "application/json; charset=utf-8";
    if (reply.sign !== false) {
      const ts = String(nowSec());
      headers["X-OC-ID"] = String(this.ocid);
      headers["X-OC-Timestamp"] = ts;
      headers["X-OC-Signature"] = signStringKit(canonicalResponseKit(this.ocid, ts, status, bodyBytes), this._sk);
    }
    Object.assign(headers, reply.headers ?? {});
    const nullBody = status === 204 || status === 205 || status === 304 || bodyBytes.length === 0;
    return new Response(nullBody ? null : bodyBytes, { status, headers });
  }

  async stop(): Promise<void> {
    if (this.server) await this.server.stop(true);
  }
}
