// Every entry of tests/vectors/opencharge-vectors.json (SPEC §18) reproduced byte for byte by src/protocol.
// The last test checks that every non-descriptive leaf of vectors.json was read by a test above, so a vector
// added later cannot be silently skipped.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as secp from "@noble/secp256k1";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
// @noble/secp256k1 is the independent reference here (the gateway signs with @noble/curves); it needs its hash hooks.
secp.hashes.sha256 = nobleSha256;
secp.hashes.hmacSha256 = (k: Uint8Array, m: Uint8Array) => nobleHmac(nobleSha256, k, m);
import rawVectors from "../vectors/opencharge-vectors.json";
import { canonDeep, canonReplacer, requestCanonical, responseCanonical } from "../../src/protocol/canonical";
import { buildCurrencyTable } from "../../src/protocol/currencies";
import { errorBody, statusOf } from "../../src/protocol/errors";
import { EMPTY_SHA256, sha256Bytes, sha256Hex } from "../../src/protocol/hash";
import { bytesToBigInt, bytesToHex, hexToBytes } from "../../src/protocol/hex";
import { parsePrivateKey, parsePublicKey, publicKeyHex } from "../../src/protocol/keys";
import { buildMetadataDocument, OUR_CAPABILITIES } from "../../src/protocol/metadata";
import { normaliseMetadata } from "../../src/protocol/peer-metadata";
import { formatMinor, parseAmount } from "../../src/protocol/money";
import { MetadataDocument, Order, SubmitOrderRequest, SubmitOrderResponse } from "../../src/protocol/schemas";
import { parseSignature, signString, verifyString } from "../../src/protocol/signatures";
import { signObject, verifyObjectSignature } from "../../src/protocol/signed-objects";
import { compileValidator } from "../../src/protocol/validate";

// ---- read tracking -------------------------------------------------------------------------------------------
// Only reads made while a test body runs count (not reads made while tests are being collected), so a skipped
// or deleted test leaves its vectors unread. Test names are therefore built from the untracked rawVectors.
const seen = new Set<string>();
let active = false;
beforeEach(() => {
  active = true;
});
afterEach(() => {
  active = false;
});
function track<T>(o: T, path = "$"): T {
  if (o === null || typeof o !== "object") return o;
  return new Proxy(o as object, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || !Object.hasOwn(target, key)) return value;
      const p = `${path}.${key}`;
      if (active && (value === null || typeof value !== "object")) seen.add(p);
      return track(value, p);
    },
  }) as T;
}
const V = track(rawVectors);
/** A plain deep copy (reads every leaf through the tracker); what we hand to the code under test. */
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x));

// ---- helpers ---------------------------------------------------------------------------------------------------
const N = secp.Point.CURVE().n;
const SK = parsePrivateKey(V.key.privateKey)!;
const PUB = (() => {
  const r = parsePublicKey(V.key.publicKey);
  if (!r.ok) throw new Error("vector public key does not parse");
  return r.point;
})();
const hex32 = (n: bigint) => n.toString(16).padStart(64, "0");

function derInt(b: Uint8Array): number[] {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const out = [...b.subarray(i)];
  if (out[0]! >= 0x80) out.unshift(0);
  return out;
}
/** Independent minimal DER encoder (for reproducing the DER vectors). */
function compactToDer(compactHex: string): string {
  const b = hexToBytes(compactHex)!;
  const r = derInt(b.subarray(0, 32));
  const s = derInt(b.subarray(32, 64));
  return bytesToHex(Uint8Array.from([0x30, 4 + r.length + s.length, 0x02, r.length, ...r, 0x02, s.length, ...s]));
}

type ReqVector = { ocid: number; timestamp: number; nonce: string; method: string; path: string };
const reqInput = (v: ReqVector, bodyHash: string, path = v.path) => ({
  ocid: String(v.ocid),
  timestamp: String(v.timestamp),
  nonce: v.nonce,
  method: v.method,
  path,
  bodyHash,
});

// ---- key, sha256Empty, noble layout --------------------------------------------------------------------------
describe("key", () => {
  test("private key → published public key forms", () => {
    expect(SK).not.toBeNull();
    expect(bytesToHex(parsePrivateKey(V.key.privateKey)!)).toBe(V.key.privateKey);
    expect(publicKeyHex(SK)).toBe(V.key.publicKey);
    expect(bytesToHex(PUB)).toBe(V.key.publicKeyUncompressed04);
    expect("04" + V.key.publicKey).toBe(V.key.publicKeyUncompressed04);
    expect(bytesToHex(secp.getPublicKey(SK, true))).toBe(V.key.publicKeyCompressed);
    const c = parsePublicKey(V.key.publicKeyCompressed);
    expect(c.ok && bytesToHex(c.point)).toBe(V.key.publicKeyUncompressed04);
  });
});

test("sha256Empty", () => {
  expect(sha256Hex("")).toBe(V.sha256Empty);
  expect(sha256Hex(new Uint8Array(0))).toBe(V.sha256Empty);
  expect(EMPTY_SHA256).toBe(V.sha256Empty);
});

test("nobleRecoveredLayout: recovery byte first in noble, moved to the end + 27 on the wire", () => {
  const canonical = V.requestSignature.docsExample.canonical;
  const rec = secp.sign(sha256Bytes(canonical), SK, { prehash: false, format: "recovered" });
  expect(bytesToHex(rec)).toBe(V.nobleRecoveredLayout.recoveredBytesHex);
  expect(bytesToHex(rec.subarray(1)) + (27 + rec[0]!).toString(16)).toBe(V.nobleRecoveredLayout.wire);
  expect(signString(canonical, SK)).toBe(V.nobleRecoveredLayout.wire);
});

// ---- request signatures -----------------------------------------------------------------------------------------
describe("requestSignature.docsExample", () => {
  const d = V.requestSignature.docsExample;
  test("body hash, canonical string, canonical hash, signature, headers", () => {
    const bodyHash = sha256Hex(d.body);
    expect(bodyHash).toBe(d.bodySha256);
    const canonical = requestCanonical(reqInput(d, bodyHash));
    expect(canonical).toBe(d.canonical);
    // METHOD is uppercased by requestCanonical (§4.2)
    expect(requestCanonical({ ...reqInput(d, bodyHash), method: d.method.toLowerCase() })).toBe(d.canonical);
    expect(sha256Hex(canonical)).toBe(d.canonicalSha256);
    const sig = signString(canonical, SK);
    expect(sig).toBe(d.headers["X-OC-Signature"]);
    expect(signString(canonical, SK)).toBe(sig); // RFC 6979: deterministic
    expect(verifyString(canonical, sig, PUB)).toBe(true);
    expect(d.headers["X-OC-ID"]).toBe(String(d.ocid));
    expect(d.headers["X-OC-Timestamp"]).toBe(String(d.timestamp));
    expect(d.headers["X-OC-Nonce"]).toBe(d.nonce);
  });
});

describe("requestSignature.docsExampleWithPublishedWrongBodyHash", () => {
  const w = V.requestSignature.docsExampleWithPublishedWrongBodyHash;
  const d = V.requestSignature.docsExample;
  test("the published hash is the quick-brown-fox hash, not the body's", () => {
    expect(sha256Hex("The quick brown fox jumps over the lazy dog")).toBe(w.bodySha256AsPublished);
    expect(sha256Hex(d.body)).not.toBe(w.bodySha256AsPublished);
  });
  test("canonical + signature reproduce, and the signature does NOT verify over the correct canonical", () => {
    const canonical = requestCanonical(reqInput(d, w.bodySha256AsPublished));
    expect(canonical).toBe(w.canonical);
    expect(sha256Hex(canonical)).toBe(w.canonicalSha256);
    expect(signString(canonical, SK)).toBe(w.signature);
    expect(verifyString(w.canonical, w.signature, PUB)).toBe(true);
    expect(verifyString(d.canonical, w.signature, PUB)).toBe(false);
    expect(verifyString(w.canonical, d.headers["X-OC-Signature"], PUB)).toBe(false);
  });
});

describe("requestSignature.signatureEncodings", () => {
  const enc = V.requestSignature.signatureEncodings;
  const d = V.requestSignature.docsExample;
  type AcceptName = keyof typeof enc.accept;
  type RejectName = keyof typeof enc.reject;

  test.each(Object.keys(rawVectors.requestSignature.signatureEncodings.accept) as AcceptName[])("accept %s verifies", (name) => {
    const sig = enc.accept[name];
    expect(parseSignature(sig).ok).toBe(true);
    expect(verifyString(d.canonical, sig, PUB)).toBe(true);
  });

  test.each(Object.keys(rawVectors.requestSignature.signatureEncodings.reject) as RejectName[])("reject %s does not verify", (name) => {
    expect(verifyString(d.canonical, enc.reject[name], PUB)).toBe(false);
  });

  test("the accept/reject entries are what their names say (independent reconstruction)", () => {
    const canonical = d.canonical;
    const wire = d.headers["X-OC-Signature"];
    const rs = wire.slice(0, 128);
    expect(enc.accept.rsv130_lowercase).toBe(wire);
    expect(enc.accept.rsv130_uppercase).toBe(wire.toUpperCase());
    expect(enc.accept.rsv130_v00).toBe(rs + "00");
    expect(enc.accept.rsv130_v01).toBe(rs + "01");
    expect(enc.accept.rsv130_wrong_recovery_v).toBe(rs + "1c");
    expect(enc.accept.compact128).toBe(rs);
    expect(enc.accept.der).toBe(compactToDer(rs));
    const s = BigInt("0x" + rs.slice(64));
    expect(enc.accept.highS_compact128).toBe(rs.slice(0, 64) + hex32(N - s));
    expect(parseSignature(enc.accept.der)).toMatchObject({ ok: true, encoding: "der" });
    expect(parseSignature(enc.accept.compact128)).toMatchObject({ ok: true, encoding: "compact" });
    expect(parseSignature(enc.accept.rsv130_uppercase)).toMatchObject({ ok: true, encoding: "rsv" });

    expect(parseSignature(enc.reject.v_1d)).toEqual({ ok: false, reason: "bad_v" });
    expect(enc.reject.v_1d).toBe(rs + "1d");
    expect(parseSignature(enc.reject.length_129)).toEqual({ ok: false, reason: "wrong_length" });
    expect(enc.reject.length_129).toBe(wire.slice(0, 129));
    expect(enc.reject.tampered_last_s_nibble).toBe(wire.slice(0, 127) + "0" + wire.slice(128));
    expect(parseSignature(enc.reject.tampered_last_s_nibble).ok).toBe(true); // parses, fails only on the maths
    expect(parseSignature(enc.reject.empty)).toEqual({ ok: false, reason: "empty" });
    // §3.4 pitfall 2: passing the hash with noble's default prehash:true signs SHA-256(SHA-256(m))
    const dh = secp.sign(sha256Bytes(canonical), SK, { format: "recovered" });
    expect(bytesToHex(dh.subarray(1)) + (27 + dh[0]!).toString(16)).toBe(enc.reject.double_hashed_sig);
  });

  test("facts", () => {
    const canonical = d.canonical;
    const rec = secp.sign(sha256Bytes(canonical), SK, { prehash: false, format: "recovered" });
    expect(rec[0]).toBe(enc.facts.recoveryId);
    const s = bytesToBigInt(rec.subarray(33, 65));
    expect(s <= N / 2n).toBe(enc.facts.sIsLow);
    const high = hexToBytes(enc.accept.highS_compact128)!;
    const digest = sha256Bytes(canonical);
    // noble's default lowS:true rejects the high-S variant; our verifier passes lowS:false (§3.4 pitfall 5)
    expect(secp.verify(high, digest, PUB, { prehash: false })).toBe(!enc.facts.nobleVerifyWithDefaultLowSRejectsHighS);
    expect(secp.verify(high, digest, PUB, { prehash: false, lowS: false })).toBe(true);
  });

  test("derPaddedExample verifies over config.deep.canonical and is the padded DER of config.deep.signature", () => {
    const der = enc.derPaddedExample.der;
    expect(der).toBe(compactToDer(V.config.deep.signature.slice(0, 128)));
    expect(der.slice(8, 10)).toBe("00"); // r padded: 30 45 02 21 00 …
    expect(parseSignature(der)).toMatchObject({ ok: true, encoding: "der" });
    expect(verifyString(V.config.deep.canonical, der, PUB)).toBe(true);
    expect(verifyString(V.order.deep.canonical, der, PUB)).toBe(false);
  });
});

describe("requestSignature public key encodings", () => {
  test.each(rawVectors.requestSignature.publicKeyEncodingsAccepted.map((_k, i) => i))(
    "accepted[%d] parses to the same 65-byte point",
    (i) => {
      const r = parsePublicKey(V.requestSignature.publicKeyEncodingsAccepted[i]!);
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.point.length).toBe(65);
        expect(bytesToHex(r.point)).toBe(V.key.publicKeyUncompressed04);
      }
    },
  );
  type Rejected = keyof typeof V.requestSignature.publicKeyEncodingsRejected;
  test.each(Object.keys(rawVectors.requestSignature.publicKeyEncodingsRejected) as Rejected[])("rejected %s", (name) => {
    expect(parsePublicKey(V.requestSignature.publicKeyEncodingsRejected[name]).ok).toBe(false);
  });
  test("rejection reasons", () => {
    const rej = V.requestSignature.publicKeyEncodingsRejected;
    expect(parsePublicKey(rej.notOnCurve128)).toEqual({ ok: false, reason: "not_on_curve" });
    expect(parsePublicKey(rej.badPrefix130)).toEqual({ ok: false, reason: "bad_prefix" });
    expect(parsePublicKey(rej.compressedBadPrefix)).toEqual({ ok: false, reason: "bad_prefix" });
  });
});

for (const name of ["sessionSubmit", "statusGet"] as const) {
  describe(`requestSignature.${name}`, () => {
    const v = V.requestSignature[name];
    test("wire path: body hash, canonical, hash, signature, headers", () => {
      const bodyHash = sha256Hex(v.body);
      expect(bodyHash).toBe(v.bodySha256);
      const canonical = requestCanonical(reqInput(v, bodyHash));
      expect(canonical).toBe(v.canonical);
      expect(sha256Hex(canonical)).toBe(v.canonicalSha256);
      expect(signString(canonical, SK)).toBe(v.headers["X-OC-Signature"]);
      expect(verifyString(canonical, v.headers["X-OC-Signature"], PUB)).toBe(true);
      expect(v.headers["X-OC-ID"]).toBe(String(v.ocid));
      expect(v.headers["X-OC-Timestamp"]).toBe(String(v.timestamp));
      expect(v.headers["X-OC-Nonce"]).toBe(v.nonce);
    });
    test("route-relative path (mount path removed)", () => {
      const rr = v.routeRelative;
      expect(v.path.startsWith("/opencharge/")).toBe(true);
      expect(rr.path).toBe(v.path.slice("/opencharge".length));
      const canonical = requestCanonical(reqInput(v, v.bodySha256, rr.path));
      expect(canonical).toBe(rr.canonical);
      expect(sha256Hex(canonical)).toBe(rr.canonicalSha256);
      expect(signString(canonical, SK)).toBe(rr.signature);
      expect(verifyString(rr.canonical, rr.signature, PUB)).toBe(true);
      // each signature verifies over exactly one of the two path candidates (§4.2 verifier leniency)
      expect(verifyString(v.canonical, rr.signature, PUB)).toBe(false);
      expect(verifyString(rr.canonical, v.headers["X-OC-Signature"], PUB)).toBe(false);
    });
  });
}

describe("requestSignature.sessionSubmit body and expectations", () => {
  const v = V.requestSignature.sessionSubmit;
  test("body = JSON.stringify({order, signature: deep signature, urls}) and validates", () => {
    expect(JSON.stringify({ order: V.order.object, signature: V.order.deep.signature, urls: V.order.orderUrls })).toBe(v.body);
    const parsed = JSON.parse(v.body);
    expect(compileValidator(SubmitOrderRequest)(parsed).ok).toBe(true);
    expect(verifyObjectSignature(parsed.order, parsed.signature, PUB, false)).toBe(v.expect.orderSignatureForm as "deep");
    expect(parsed.order.ocid).toBe(v.ocid); // §7.3: order.ocid bound to X-OC-ID
  });
  test("server state and expected response are consistent with session/responseSignature vectors", () => {
    const e = v.expect;
    expect(e.serverNow).toBe(v.timestamp);
    expect(e.session.id).toBe(V.session.sessionId);
    expect(v.path).toBe(`/opencharge/orders/create/${e.session.id}`);
    expect(e.session.status).toBe("pending");
    expect(e.session.createdAt).toBe(V.session.createdAt);
    expect(e.session.expiresAt).toBe(V.session.expiresAt);
    expect(e.session.createdAt <= e.serverNow && e.serverNow <= e.session.expiresAt).toBe(true);
    expect(e.serverNow <= V.order.object.expiresAt).toBe(true);
    expect(Object.keys(e.directoryEntries)).toEqual([String(v.ocid)]);
    expect(e.response.status).toBe(V.responseSignature.sessionSubmitOk.status);
    expect(e.response.body).toBe(V.responseSignature.sessionSubmitOk.body);
    expect(e.response.body).toBe(JSON.stringify({ urls: { status: V.session.statusUrl } }));
    expect(compileValidator(SubmitOrderResponse)(JSON.parse(e.response.body)).ok).toBe(true);
  });
  test("statusGet path is the status URL's path", () => {
    expect(new URL(V.session.statusUrl).pathname).toBe(V.requestSignature.statusGet.path);
    expect(V.requestSignature.statusGet.body).toBe("");
    expect(V.requestSignature.statusGet.bodySha256).toBe(EMPTY_SHA256);
  });
});

// ---- response signatures ----------------------------------------------------------------------------------------
describe("responseSignature", () => {
  for (const name of ["sessionSubmitOk", "sessionUsedError"] as const) {
    test(name, () => {
      const r = V.responseSignature[name];
      const bodyHash = sha256Hex(r.body);
      expect(bodyHash).toBe(r.bodySha256);
      const canonical = responseCanonical(r.ocid, r.timestamp, r.status, bodyHash);
      expect(canonical).toBe(r.canonical);
      expect(responseCanonical(String(r.ocid), String(r.timestamp), r.status, bodyHash)).toBe(r.canonical);
      expect(sha256Hex(canonical)).toBe(r.canonicalSha256);
      expect(signString(canonical, SK)).toBe(r.headers["X-OC-Signature"]);
      expect(verifyString(canonical, r.headers["X-OC-Signature"], PUB)).toBe(true);
      expect(r.headers["X-OC-ID"]).toBe(String(r.ocid));
      expect(r.headers["X-OC-Timestamp"]).toBe(String(r.timestamp));
    });
  }
  test("the 410 body is exactly our errorBody(SESSION_USED) and the status our table's", () => {
    const r = V.responseSignature.sessionUsedError;
    expect(JSON.stringify(errorBody("SESSION_USED"))).toBe(r.body);
    expect(statusOf("SESSION_USED")).toBe(r.status);
  });
});

// ---- signed objects: order, proof, config -------------------------------------------------------------------------
for (const name of ["order", "proof", "config"] as const) {
  describe(`${name} canonical forms`, () => {
    const v = V[name];
    test("deep: canonical, sha256, signature (signString and signObject)", () => {
      const obj = plain(v.object);
      expect(canonDeep(obj)).toBe(v.deep.canonical);
      expect(sha256Hex(v.deep.canonical)).toBe(v.deep.sha256);
      expect(signString(v.deep.canonical, SK)).toBe(v.deep.signature);
      expect(signObject(obj, SK)).toEqual({ canonical: v.deep.canonical, signature: v.deep.signature });
      expect(verifyObjectSignature(obj, v.deep.signature, PUB, false)).toBe("deep");
    });
    test("replacer: canonical, sha256, signature", () => {
      const obj = plain(v.object) as Record<string, unknown>;
      expect(canonReplacer(obj)).toBe(v.replacer.canonical);
      expect(sha256Hex(v.replacer.canonical)).toBe(v.replacer.sha256);
      expect(signString(v.replacer.canonical, SK)).toBe(v.replacer.signature);
      expect(verifyObjectSignature(obj, v.replacer.signature, PUB, true)).toBe("replacer");
      expect(verifyObjectSignature(obj, v.replacer.signature, PUB, false)).toBeNull();
    });
    test("cross check: neither signature verifies over the other form", () => {
      expect(verifyString(v.replacer.canonical, v.deep.signature, PUB)).toBe(false);
      expect(verifyString(v.deep.canonical, v.replacer.signature, PUB)).toBe(false);
    });
  });
}

describe("tampering: why the replacer form is only an interop fallback", () => {
  // The replacer form's allow-list drops nested fields that are not also top-level keys (§5.2), so those fields
  // are NOT signed: a tampered item price, proof recipient or settlement list still "verifies" in the replacer
  // form. That is why we never produce it, try deep first, and never take money-relevant data from fields the
  // verified form does not cover (§5.4, §13.3 step 6).
  test("order.tamperItemPrice", () => {
    const t = V.order.tamperItemPrice;
    expect(t.change).toContain("items[0].price");
    expect(t.change).toContain('"0.01"');
    const o = plain(V.order.object);
    expect(o.items[0]!.price).toBe("5.00");
    o.items[0]!.price = "0.01";
    expect(verifyString(canonDeep(o), V.order.deep.signature, PUB)).toBe(t.deepSignatureStillValid);
    expect(verifyString(canonReplacer(o), V.order.replacer.signature, PUB)).toBe(t.replacerSignatureStillValid);
    expect(t.deepSignatureStillValid).toBe(false);
    expect(t.replacerSignatureStillValid).toBe(true);
    expect(verifyObjectSignature(o, V.order.deep.signature, PUB, true)).toBeNull();
    expect(verifyObjectSignature(o, V.order.replacer.signature, PUB, true)).toBe("replacer");
    expect(verifyObjectSignature(o, V.order.replacer.signature, PUB, false)).toBeNull();
    // a top-level field is covered by both forms
    const o2 = { ...plain(V.order.object), amount: "0.01" };
    expect(verifyObjectSignature(o2, V.order.replacer.signature, PUB, true)).toBeNull();
  });
  test("proof to.ocid tampering", () => {
    const p = plain(V.proof.object);
    p.to.ocid = 666;
    expect(verifyString(canonDeep(p), V.proof.deep.signature, PUB)).toBe(false);
    expect(verifyString(canonReplacer(p), V.proof.replacer.signature, PUB)).toBe(true);
    expect(verifyObjectSignature(p, V.proof.deep.signature, PUB, true)).toBeNull();
    expect(verifyObjectSignature(p, V.proof.replacer.signature, PUB, true)).toBe("replacer");
  });
  test("config settlement tampering", () => {
    const c = plain(V.config.object);
    c.settlement.accepts = [999];
    expect(verifyObjectSignature(c, V.config.deep.signature, PUB, true)).toBeNull();
    expect(verifyObjectSignature(c, V.config.replacer.signature, PUB, true)).toBe("replacer");
  });
});

test("config.metadataDocument: buildMetadataDocument reproduces it", () => {
  const md = V.config.metadataDocument;
  const doc = buildMetadataDocument(
    {
      name: md.name,
      profile: md.profile,
      contact: md.contact,
      publicKeyHex: publicKeyHex(SK),
      endpoint: md.config.endpoint,
      currencies: plain(md.config.settlement.currencies),
      acceptIssuers: plain(md.config.settlement.accepts),
    },
    SK,
  );
  expect(doc as unknown).toStrictEqual(plain(md));
  expect(doc.signature).toBe(md.signature);
  expect(md.signature).toBe(V.config.deep.signature);
  expect(md.config).toEqual(V.config.object);
  expect(md.opencharge).toBe("0.1");
  expect(md.kyc).toEqual([]);
  expect(OUR_CAPABILITIES).toEqual(plain(md.config.capabilities));
  expect("icon" in doc).toBe(false);
  expect(compileValidator(MetadataDocument)(doc).ok).toBe(true);
  expect(verifyObjectSignature(doc.config, doc.signature, PUB, false)).toBe("deep");
});

test("config.metadataDocument: flat top-level copies of config for readers of the flat shape (issue 12)", () => {
  const md = plain(V.config.metadataDocument);
  for (const k of ["publicKey", "endpoint", "capabilities", "settlement"] as const) expect(md[k]).toEqual(md.config[k]);
  // The implementation guide's SDK reads `metadata.publicKey`: the document without `config` is a valid flat one.
  const { config: _c, signature: _s, ...flat } = md;
  const asFlat = normaliseMetadata(flat, 200, { acceptReplacer: true, httpAllowed: () => false, fetchedAt: 1 });
  const asNested = normaliseMetadata(md, 200, { acceptReplacer: true, httpAllowed: () => false, fetchedAt: 1 });
  expect(asFlat.ok && asNested.ok).toBe(true);
  if (asFlat.ok && asNested.ok) expect(asFlat.meta).toEqual(asNested.meta);
  // The copies are unsigned: the signature covers `config` alone, and a nested reader never looks at them.
  expect(verifyObjectSignature(md.config, md.signature, PUB, false)).toBe("deep");
  const lying = normaliseMetadata({ ...md, publicKey: "00".repeat(64) }, 200, { acceptReplacer: true, httpAllowed: () => false, fetchedAt: 1 });
  expect(lying.ok && bytesToHex(lying.meta.publicKey.subarray(1))).toBe(md.config.publicKey);
});

// ---- session ---------------------------------------------------------------------------------------------------------
describe("session", () => {
  const s = V.session;
  test("qrPayload = JSON.stringify({ocid, order, expiresAt}) in that order, and its sha256", () => {
    const payload = JSON.stringify({ ocid: s.gatewayOcid, order: `${s.endpoint}/orders/create/${s.sessionId}`, expiresAt: s.expiresAt });
    expect(payload).toBe(s.qrPayload);
    expect(sha256Hex(payload)).toBe(s.qrPayloadSha256);
    expect(s.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(s.expiresAt - s.createdAt).toBe(300);
    expect(s.endpoint).toBe(V.config.object.endpoint);
    expect(s.gatewayOcid).toBe(V.responseSignature.sessionSubmitOk.ocid);
  });
  test("statusUrl and statusUrlEncodingExample via encodeURIComponent", () => {
    const url = (id: string) => `${s.endpoint}/orders/${encodeURIComponent(id)}/status`;
    expect(url(V.order.object.id)).toBe(s.statusUrl);
    expect(url(s.statusUrlEncodingExample.orderId)).toBe(s.statusUrlEncodingExample.url);
  });
});

// ---- canonical JSON edge case --------------------------------------------------------------------------------------
describe("canonicalJsonEdgeCase", () => {
  const e = V.canonicalJsonEdgeCase;
  function sortedCopy(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(sortedCopy);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k]);
    return out;
  }
  test("deep form of the parsed input", () => {
    const parsed = JSON.parse(e.inputJson);
    expect(canonDeep(parsed)).toBe(e.deep);
    expect(sha256Hex(e.deep)).toBe(e.deepSha256);
    expect(canonDeep(JSON.parse(e.deep))).toBe(e.deep); // idempotent
  });
  test("a naive recursively sorted copy gives the (wrong) naiveSortedCopy string", () => {
    const naive = JSON.stringify(sortedCopy(JSON.parse(e.inputJson)));
    expect(naive).toBe(e.naiveSortedCopy);
    expect(naive).not.toBe(e.deep);
  });
  test("undefined members are ignored and -0 serialises as 0", () => {
    const parsed = JSON.parse(e.inputJson);
    expect(canonDeep({ ...parsed, u: undefined })).toBe(e.deep);
    parsed.a[3].x = undefined;
    expect(canonDeep(parsed)).toBe(e.deep);
    expect(parsed.n).toBe(0);
    parsed.n = -0;
    expect(Object.is(parsed.n, -0)).toBe(true);
    expect(canonDeep(parsed)).toBe(e.deep);
    expect(canonDeep([undefined, -0])).toBe("[null,0]");
  });
});

// ---- amounts ---------------------------------------------------------------------------------------------------------
describe("amounts", () => {
  const table = buildCurrencyTable({ USDC: 6 });
  const validateOrder = compileValidator(Order);
  const enabled = () => new Set(Object.keys(V.amounts.currencyTable));

  test("currency table matches buildCurrencyTable({USDC:6})", () => {
    const entries = Object.entries(V.amounts.currencyTable);
    expect(entries.length).toBe(6);
    for (const [code, exp] of entries) expect([code, table.get(code)]).toEqual([code, exp]);
  });

  test("there are 39 parse cases", () => {
    expect(V.amounts.parse.length).toBe(39);
  });

  type ParseCase = { amount: string | number; currency: string; minor?: string; error?: string; details?: { reason: string } };
  const labels = (rawVectors.amounts.parse as ParseCase[]).map((c, i) => [i, JSON.stringify(c.amount), c.currency] as const);

  test.each(labels)("parse[%d] %s %s", (i) => {
    const c = (V.amounts.parse as ParseCase[])[i]!;
    if (c.error === "INVALID_REQUEST") {
      // Rejected by schema validation before parseAmount runs (§6.1, §6.2)
      const order = { ...plain(V.order.object), amount: c.amount, currency: c.currency };
      const r = validateOrder(order);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.fields).toContain(typeof c.amount !== "string" ? "amount" : "currency");
      return;
    }
    expect(typeof c.amount).toBe("string");
    const amount = c.amount as string;
    // every other case passes the schema: the verdict is parseAmount's (§6.2), not INVALID_REQUEST
    expect(validateOrder({ ...plain(V.order.object), amount, currency: c.currency }).ok).toBe(true);
    const r = parseAmount(amount, c.currency, table, enabled());
    if (c.error !== undefined) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(c.error as "INVALID_AMOUNT" | "SETTLEMENT_NOT_SUPPORTED");
        if (c.details) expect({ reason: r.reason as string }).toEqual(c.details);
      }
    } else {
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.minor.toString()).toBe(c.minor!);
        // round trip through formatMinor gives a value-equal amount
        const again = parseAmount(formatMinor(r.minor, c.currency, table), c.currency, table, enabled());
        expect(again.ok && again.minor).toBe(r.minor);
      }
    }
  });

  test.each(rawVectors.amounts.format.map((f, i) => [i, f.minor, f.currency] as const))("format[%d] %s %s", (i) => {
    const f = V.amounts.format[i]!;
    expect(formatMinor(BigInt(f.minor), f.currency, table)).toBe(f.string);
    const back = parseAmount(f.string, f.currency, table, enabled());
    expect(back.ok && back.minor.toString()).toBe(f.minor);
  });
});

// ---- coverage of vectors.json ------------------------------------------------------------------------------------------
test("every non-descriptive leaf of vectors.json was read by a test above", () => {
  const leaves: string[] = [];
  (function walk(v: unknown, p: string) {
    if (v !== null && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, `${p}.${k}`);
    else leaves.push(p);
  })(rawVectors, "$");
  const descriptive = (p: string) =>
    /\.(note|inputNote|description|generatedWith|crossCheck)$/.test(p) || p.startsWith("$.requestSignature.sessionSubmit.expect.directoryEntries.");
  const missed = leaves.filter((p) => !descriptive(p) && !seen.has(p));
  expect(leaves.length).toBeGreaterThan(200);
  expect(missed).toEqual([]);
});
