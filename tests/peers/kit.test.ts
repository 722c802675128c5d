// Self-tests of the test peer kit (no gateway involved): the kit's own crypto reproduces the spec vectors,
// and two kit peers talking to each other authenticate requests and responses like independent peers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import vectors from "../vectors/opencharge-vectors.json";
import {
  TestPeer,
  canonDeepKit,
  canonReplacerKit,
  canonicalRequestKit,
  makeOrder,
  sha256HexKit,
  signStringKit,
  verifyStringKit,
  EMPTY_SHA256,
} from "./kit";
import { thrown } from "../helpers/settled";

const V = vectors as any;
const SK = V.key.privateKey as string;
const PK = V.key.publicKey as string;

describe("kit crypto reproduces vectors.json", () => {
  test("sha256 of empty body", () => {
    expect(sha256HexKit("")).toBe(V.sha256Empty);
    expect(sha256HexKit(new Uint8Array())).toBe(EMPTY_SHA256);
  });

  test("request signature: docs example", () => {
    const d = V.requestSignature.docsExample;
    const canonical = canonicalRequestKit(d.ocid, d.timestamp, d.nonce, d.method, d.path, d.body);
    expect(canonical).toBe(d.canonical);
    expect(signStringKit(canonical, SK)).toBe(d.headers["X-OC-Signature"]);
    expect(verifyStringKit(canonical, d.headers["X-OC-Signature"], PK)).toBe(true);
  });

  test("request signatures: session submit (wire + route-relative) and status GET", () => {
    const s = V.requestSignature.sessionSubmit;
    expect(signStringKit(canonicalRequestKit(s.ocid, s.timestamp, s.nonce, s.method, s.path, s.body), SK)).toBe(s.headers["X-OC-Signature"]);
    expect(signStringKit(s.routeRelative.canonical, SK)).toBe(s.routeRelative.signature);
    const g = V.requestSignature.statusGet;
    expect(signStringKit(canonicalRequestKit(g.ocid, g.timestamp, g.nonce, g.method, g.path, g.body), SK)).toBe(g.headers["X-OC-Signature"]);
  });

  test("signedRequestHeaders with fixed nonce/timestamp matches the docs example", () => {
    const d = V.requestSignature.docsExample;
    const peer = TestPeerForSigning(d.ocid, SK);
    const h = peer.signedRequestHeaders(d.method, d.path, d.body, { nonce: d.nonce, timestamp: d.timestamp });
    expect(h["X-OC-ID"]).toBe(d.headers["X-OC-ID"]);
    expect(h["X-OC-Timestamp"]).toBe(d.headers["X-OC-Timestamp"]);
    expect(h["X-OC-Nonce"]).toBe(d.headers["X-OC-Nonce"]);
    expect(h["X-OC-Signature"]).toBe(d.headers["X-OC-Signature"]);
    expect(h["Content-Type"]).toBe("application/json");
  });

  test("response signatures", () => {
    for (const r of [V.responseSignature.sessionSubmitOk, V.responseSignature.sessionUsedError]) {
      const canonical = `${r.ocid}\n${r.timestamp}\n${r.status}\n${sha256HexKit(r.body)}`;
      expect(canonical).toBe(r.canonical);
      expect(signStringKit(canonical, SK)).toBe(r.headers["X-OC-Signature"]);
    }
  });

  test("canonical JSON: order deep + replacer, proof, config, edge case", () => {
    expect(canonDeepKit(V.order.object)).toBe(V.order.deep.canonical);
    expect(canonReplacerKit(V.order.object)).toBe(V.order.replacer.canonical);
    expect(canonDeepKit(V.proof.object)).toBe(V.proof.deep.canonical);
    expect(canonReplacerKit(V.proof.object)).toBe(V.proof.replacer.canonical);
    expect(canonDeepKit(V.config.object)).toBe(V.config.deep.canonical);
    expect(canonReplacerKit(V.config.object)).toBe(V.config.replacer.canonical);
    const edge = V.canonicalJsonEdgeCase;
    const parsed = JSON.parse(edge.inputJson);
    expect(canonDeepKit(parsed)).toBe(edge.deep);
    expect(sha256HexKit(canonDeepKit(parsed))).toBe(edge.deepSha256);
    expect(canonDeepKit({ ...parsed, u: undefined, n: -0 })).toBe(edge.deep);
  });

  test("order/proof/config signatures in both forms", () => {
    const p = TestPeerForSigning(500, SK);
    expect(p.signOrder(V.order.object)).toBe(V.order.deep.signature);
    expect(p.signOrder(V.order.object, "replacer")).toBe(V.order.replacer.signature);
    expect(p.signProof(V.proof.object)).toBe(V.proof.deep.signature);
    expect(p.signProof(V.proof.object, "replacer")).toBe(V.proof.replacer.signature);
    expect(signStringKit(V.config.deep.canonical, SK)).toBe(V.config.deep.signature);
    expect(p.verifyProof(V.proof.object, V.proof.deep.signature, PK)).toBe("deep");
    expect(p.verifyProof(V.proof.object, V.proof.replacer.signature, PK)).toBe("replacer");
    const tampered = { ...V.proof.object, amount: "1.00" };
    expect(p.verifyProof(tampered, V.proof.deep.signature, PK)).toBeNull();
    // items are not covered by the replacer form
    const cheap = structuredClone(V.order.object);
    cheap.items[0].price = "0.01";
    expect(verifyStringKit(canonDeepKit(cheap), V.order.deep.signature, PK)).toBe(false);
    expect(verifyStringKit(canonReplacerKit(cheap), V.order.replacer.signature, PK)).toBe(true);
  });

  test("verifyStringKit is strict about the emitted encoding (§3.2)", () => {
    const d = V.requestSignature.docsExample;
    const acc = V.requestSignature.signatureEncodings.accept;
    expect(verifyStringKit(d.canonical, acc.rsv130_lowercase, PK)).toBe(true);
    // any key encoding works
    for (const k of V.requestSignature.publicKeyEncodingsAccepted) expect(verifyStringKit(d.canonical, acc.rsv130_lowercase, k)).toBe(true);
    // encodings the gateway must accept but never emit
    for (const name of ["rsv130_uppercase", "rsv130_v00", "rsv130_v01", "rsv130_wrong_recovery_v", "compact128", "der", "highS_compact128"]) {
      expect(verifyStringKit(d.canonical, acc[name], PK)).toBe(false);
    }
    for (const sig of Object.values(V.requestSignature.signatureEncodings.reject)) {
      expect(verifyStringKit(d.canonical, sig as string, PK)).toBe(false);
    }
    // wrong key
    const other = TestPeerForSigning(1);
    expect(verifyStringKit(d.canonical, acc.rsv130_lowercase, other.publicKeyHex)).toBe(false);
  });

  test("makeOrder", () => {
    const o = makeOrder(500);
    expect(o.id).toMatch(/^ord_[0-9a-f]+$/);
    expect(o.ocid).toBe(500);
    expect(o.amount).toBe("25.00");
    expect(o.currency).toBe("USD");
    expect((o.items as unknown[]).length).toBe(2);
    expect(o.accepts).toEqual([500]);
    expect((o.expiresAt as number) - (o.createdAt as number)).toBe(3600);
    expect(Math.abs((o.createdAt as number) - Date.now() / 1000)).toBeLessThan(5);
    const o2 = makeOrder(500, { accepts: [100, 101], amount: "1.00", memo: undefined, reference: undefined });
    expect(o2.accepts).toEqual([100, 101]);
    expect(o2.amount).toBe("1.00");
    expect("reference" in o2).toBe(false);
    expect(makeOrder(500).id).not.toBe(o.id);
  });
});

function TestPeerForSigning(ocid: number, sk?: string): TestPeer {
  return TestPeer.offline({ ocid, privateKeyHex: sk });
}

describe("two peers talking", () => {
  let a: TestPeer; // plays the "gateway" calling
  let b: TestPeer; // plays a merchant gateway / merchant
  beforeAll(async () => {
    a = await TestPeer.start({ ocid: 200, name: "Peer A" });
    b = await TestPeer.start({ ocid: 101, name: "Peer B", capabilities: ["transfer.create", "transfer.webhook"], settlement: { currencies: ["USD", "EUR"], accepts: [300] } });
    a.trustGateway(b.ocid, b.publicKeyHex);
    b.trustGateway(a.ocid, a.publicKeyHex);
    b.route("POST", "/transfer/create", (req) => {
      if (!req.authentic) return { status: 401, body: { error: { code: "INVALID_SIGNATURE", message: req.authError ?? "bad" } } };
      const j = req.json;
      return { body: b.issueProof({ from: j.from, to: j.to, amount: j.amount, currency: j.currency }) };
    });
    b.route("GET", "/orders/:orderId/status", (req, params) => ({ body: { orderId: params.orderId, authentic: req.authentic, path: req.path } }));
    b.route("POST", "/slow", () => ({ delayMs: 400, body: { ok: true } }));
    b.route("POST", "/drop", () => ({ dropConnection: true }));
    b.route("POST", "/unsigned", () => ({ body: { ok: true }, sign: false }));
    b.route("POST", "/raw", () => ({ status: 502, rawBody: "<html>bad gateway</html>", headers: { "content-type": "text/html" } }));
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  test("keys are independent and well-formed", () => {
    expect(a.publicKeyHex).toMatch(/^[0-9a-f]{128}$/);
    expect(a.privateKeyHex).toMatch(/^[0-9a-f]{64}$/);
    expect(a.publicKeyHex).not.toBe(b.publicKeyHex);
    expect(b.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.endpoint).toBe(b.url + "/opencharge");
    expect(b.metadataUrl).toBe(b.endpoint + "/metadata.json");
  });

  test("authentic request, valid response signature, proof verifies under B's key", async () => {
    const body = { from: { ocid: 200, reference: "user_1" }, to: { ocid: 500, reference: "ord_1" }, amount: "25.00", currency: "USD" };
    const r = await a.call(b.url, "POST", "/opencharge/transfer/create", body, { headers: { "Idempotency-Key": "job1:transfer.create" } });
    expect(r.status).toBe(200);
    expect(r.responseSignatureValid).toBe(true);
    const last = b.received.at(-1)!;
    expect(last.authentic).toBe(true);
    expect(last.authError).toBeUndefined();
    expect(last.path).toBe("/opencharge/transfer/create");
    expect(new TextDecoder().decode(last.rawBody)).toBe(JSON.stringify(body));
    expect(last.headers.get("idempotency-key")).toBe("job1:transfer.create");
    expect(last.headers.get("x-oc-nonce")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(r.json.proof.issuer).toBe(101);
    expect(r.json.proof.to).toEqual({ ocid: 500, reference: "ord_1" });
    expect(a.verifyProof(r.json.proof, r.json.signature, b.publicKeyHex)).toBe("deep");
    expect(a.verifyProof(r.json.proof, r.json.signature, a.publicKeyHex)).toBeNull();
  });

  test("GET with params and query; empty-body hash", async () => {
    const r = await a.call(b.url, "GET", "/opencharge/orders/ord%2042/status?x=1&y=");
    expect(r.status).toBe(200);
    expect(r.responseSignatureValid).toBe(true);
    expect(r.json).toEqual({ orderId: "ord 42", authentic: true, path: "/opencharge/orders/ord%2042/status?x=1&y=" });
    expect(r.sent.rawBody).toBe("");
  });

  test("raw body is sent verbatim and verified over those bytes", async () => {
    const raw = '{ "from":{"ocid":200},"to":{"ocid":500},"amount":"1.00","currency":"USD" }';
    const r = await a.call(b.url, "POST", "/opencharge/transfer/create", { raw });
    expect(r.status).toBe(200);
    expect(new TextDecoder().decode(b.received.at(-1)!.rawBody)).toBe(raw);
    expect(b.received.at(-1)!.authentic).toBe(true);
  });

  test("tampered body → not authentic", async () => {
    const path = "/opencharge/transfer/create";
    const signedFor = JSON.stringify({ amount: "1.00" });
    const sent = JSON.stringify({ amount: "1000.00" });
    const h = a.signedRequestHeaders("POST", path, signedFor);
    const res = await fetch(b.url + path, { method: "POST", headers: h, body: sent });
    expect(res.status).toBe(401);
    expect(b.received.at(-1)!.authentic).toBe(false);
    expect(b.received.at(-1)!.authError).toBe("invalid_signature");
  });

  test("tampered nonce → not authentic", async () => {
    const r = await a.call(b.url, "POST", "/opencharge/transfer/create", { amount: "1.00" }, { tamper: (h) => { h["X-OC-Nonce"] = "req_other"; } });
    expect(r.status).toBe(401);
    expect(b.received.at(-1)!.authError).toBe("invalid_signature");
  });

  test("signed path ≠ wire path (route-relative) → not authentic", async () => {
    const r = await a.call(b.url, "POST", "/opencharge/transfer/create", { amount: "1.00" }, { signPath: "/transfer/create" });
    expect(r.status).toBe(401);
    expect(b.received.at(-1)!.authentic).toBe(false);
  });

  test("other auth failures: stale timestamp, reused nonce, untrusted sender, missing header, bad signature override", async () => {
    const p = "/opencharge/transfer/create";
    let r = await a.call(b.url, "POST", p, {}, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(b.received.at(-1)!.authError).toBe("timestamp_expired");
    r = await a.call(b.url, "POST", p, { from: { ocid: 200 }, to: { ocid: 1 }, amount: "1", currency: "USD" }, { nonce: "req_fixed_nonce_1" });
    expect(r.status).toBe(200);
    r = await a.call(b.url, "POST", p, { from: { ocid: 200 }, to: { ocid: 1 }, amount: "1", currency: "USD" }, { nonce: "req_fixed_nonce_1" });
    expect(b.received.at(-1)!.authError).toBe("nonce_reused");
    const stranger = await TestPeer.start({ ocid: 999 });
    try {
      r = await stranger.call(b.url, "POST", p, {});
      expect(b.received.at(-1)!.authError).toBe("untrusted sender 999");
      // B answers with its own signature; the stranger doesn't know B's key → null
      expect(r.responseSignatureValid).toBeNull();
    } finally {
      await stranger.stop();
    }
    r = await a.call(b.url, "POST", p, {}, { tamper: (h) => { delete h["X-OC-Timestamp"]; } });
    expect(b.received.at(-1)!.authError).toBe("missing_header:X-OC-Timestamp");
    r = await a.call(b.url, "POST", p, {}, { signature: "00".repeat(65) });
    expect(b.received.at(-1)!.authError).toBe("invalid_signature");
    expect(r.status).toBe(401);
    expect(r.responseSignatureValid).toBe(true); // error responses are signed too
  });

  test("response signature checks: unsigned → null, wrong expected ocid → false, 404 signed", async () => {
    let r = await a.call(b.url, "POST", "/opencharge/unsigned", {});
    expect(r.responseSignatureValid).toBeNull();
    r = await a.call(b.url, "POST", "/opencharge/nope", {});
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { code: "NOT_FOUND", message: "Not found" } });
    expect(r.responseSignatureValid).toBe(true);
    a.trustGateway(777, a.publicKeyHex); // now A expects ocid 777
    try {
      r = await a.call(b.url, "POST", "/opencharge/nope", {});
      expect(r.responseSignatureValid).toBe(false);
      r = await a.call(b.url, "POST", "/opencharge/nope", {}, { expectOcid: 101 });
      expect(r.responseSignatureValid).toBe(true);
    } finally {
      a.trustGateway(b.ocid, b.publicKeyHex);
    }
    // a response signed by the wrong key
    const impostor = await TestPeer.start({ ocid: 101 });
    try {
      r = await a.call(impostor.url, "POST", "/opencharge/nope", {});
      expect(r.status).toBe(404);
      expect(r.responseSignatureValid).toBe(false);
    } finally {
      await impostor.stop();
    }
  });

  test("B → A as well (trust both ways)", async () => {
    a.route("POST", "/transfer/webhook", (req) => ({ body: { status: req.authentic ? "accepted" : "rejected", txid: req.json?.proof?.txid } }));
    const proof = b.issueProof({ to: { ocid: 200, reference: "user_1" }, amount: "5.00", currency: "USD" });
    const r = await b.call(a.url, "POST", "/opencharge/transfer/webhook", proof);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: "accepted", txid: proof.proof.txid });
    expect(r.responseSignatureValid).toBe(true);
    const got = await a.waitForRequest((q) => q.path === "/opencharge/transfer/webhook");
    expect(got.authentic).toBe(true);
    expect(a.verifyProof(got.json.proof, got.json.signature, b.publicKeyHex)).toBe("deep");
  });

  test("delay, drop, raw non-JSON reply", async () => {
    const t0 = Date.now();
    const r = await a.call(b.url, "POST", "/opencharge/slow", {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(r.json).toEqual({ ok: true });
    expect(await thrown(a.call(b.url, "POST", "/opencharge/slow", {}, { timeoutMs: 100 }))).toThrow();
    expect(await thrown(a.call(b.url, "POST", "/opencharge/drop", {}))).toThrow();
    const raw = await a.call(b.url, "POST", "/opencharge/raw", {});
    expect(raw.status).toBe(502);
    expect(raw.text).toBe("<html>bad gateway</html>");
    expect(raw.json).toBeUndefined();
    expect(raw.headers.get("content-type")).toBe("text/html");
    expect(raw.responseSignatureValid).toBe(true);
  });
});

describe("metadata", () => {
  const forms = ["nested", "flat", "nested-unsigned", "nested-bad-signature", "nested-replacer-signed"] as const;
  const peers: TestPeer[] = [];
  afterAll(async () => {
    for (const p of peers) await p.stop();
  });

  for (const form of forms) {
    test(`form ${form}`, async () => {
      const p = await TestPeer.start({ ocid: 500, name: "Merchant", metadataForm: form, capabilities: ["transfer.webhook"], settlement: { currencies: ["USD"], accepts: [100, 101] } });
      peers.push(p);
      const res = await fetch(p.metadataUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-oc-signature")).toBeNull();
      const doc = (await res.json()) as any;
      expect(doc.opencharge).toBe("0.1");
      expect(doc.name).toBe("Merchant");
      const expectedConfig = { publicKey: p.publicKeyHex, endpoint: p.endpoint, capabilities: ["transfer.webhook"], settlement: { currencies: ["USD"], accepts: [100, 101] } };
      if (form === "flat") {
        expect(doc.config).toBeUndefined();
        expect(doc.signature).toBeUndefined();
        expect({ publicKey: doc.publicKey, endpoint: doc.endpoint, capabilities: doc.capabilities, settlement: doc.settlement }).toEqual(expectedConfig);
        return;
      }
      expect(doc.config).toEqual(expectedConfig);
      const deepOk = verifyStringKit(canonDeepKit(doc.config), doc.signature ?? "", p.publicKeyHex);
      const replOk = verifyStringKit(canonReplacerKit(doc.config), doc.signature ?? "", p.publicKeyHex);
      if (form === "nested") expect([deepOk, replOk]).toEqual([true, false]);
      if (form === "nested-unsigned") expect("signature" in doc).toBe(false);
      if (form === "nested-bad-signature") {
        expect(doc.signature).toMatch(/^[0-9a-f]{128}1[bc]$/);
        expect([deepOk, replOk]).toEqual([false, false]);
      }
      if (form === "nested-replacer-signed") expect([deepOk, replOk]).toEqual([false, true]);
      expect(p.metadataFetches).toBe(1);
      expect(p.received.length).toBe(0);
    });
  }

  test("metadataFetches, setMetadataDown, setMetadata, custom mount path", async () => {
    const p = await TestPeer.start({ ocid: 300, mountPath: "/api/oc" });
    peers.push(p);
    expect(p.metadataUrl).toBe(p.url + "/api/oc/metadata.json");
    expect((await fetch(p.metadataUrl)).status).toBe(200);
    expect((await fetch(p.metadataUrl)).status).toBe(200);
    expect(p.metadataFetches).toBe(2);
    p.setMetadataDown(true);
    const down = await fetch(p.metadataUrl);
    expect(down.status).toBe(503);
    expect(p.metadataFetches).toBe(3);
    p.setMetadataDown(false);
    p.setMetadata({ hello: "world" });
    expect(await (await fetch(p.metadataUrl)).json()).toEqual({ hello: "world" });
    p.setMetadata(undefined);
    expect(((await (await fetch(p.metadataUrl)).json()) as any).config.endpoint).toBe(p.url + "/api/oc");
    expect(p.metadataFetches).toBe(5);
    // wrong mount → 404 and recorded
    expect((await fetch(p.url + "/opencharge/metadata.json")).status).toBe(404);
    expect(p.metadataFetches).toBe(5);
    expect(p.received.length).toBe(1);
    // rotateKey changes the published key
    const before = p.publicKeyHex;
    p.rotateKey();
    const doc = (await (await fetch(p.metadataUrl)).json()) as any;
    expect(doc.config.publicKey).not.toBe(before);
    expect(doc.config.publicKey).toBe(p.publicKeyHex);
    expect(verifyStringKit(canonDeepKit(doc.config), doc.signature, p.publicKeyHex)).toBe(true);
  });
});
