// Wire schemas, JSON parsing limits and the error table (§7, §9.1, §13.1, §15, §16).
import { describe, expect, test } from "bun:test";
import vectors from "../vectors/opencharge-vectors.json";
import { ERRORS, errorBody, ProtocolError, statusOf, type ErrorCode } from "../../src/protocol/errors";
import { utf8 } from "../../src/protocol/hex";
import {
  CheckoutCreateRequest,
  ErrorResponse,
  FlatMetadataDocument,
  MetadataDocument,
  Order,
  Proof,
  SignedProof,
  SubmitOrderRequest,
  TransferCreateRequest,
  TransferWebhookRequest,
} from "../../src/protocol/schemas";
import { compileValidator, jsonDepth, MAX_JSON_DEPTH, parseJsonObject, pointerToPath } from "../../src/protocol/validate";

const submitBody = () => JSON.parse(vectors.requestSignature.sessionSubmit.body);
const validateSubmit = compileValidator(SubmitOrderRequest);
const validateOrder = compileValidator(Order);
const validateProof = compileValidator(Proof);
const fieldsOf = (r: { ok: true } | { ok: false; fields: string[] }) => (r.ok ? [] : r.fields);

describe("SubmitOrderRequest (§7.1, §7.2, §9.4)", () => {
  test("accepts the vectors' session-submit body", () => {
    const r = validateSubmit(submitBody());
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.order.items?.[1]?.quantity).toBe(1);
  });

  test("a bad item is reported as order.items[1].quantity", () => {
    for (const q of [0, -1, "1", null]) {
      const b = submitBody();
      b.order.items[1].quantity = q;
      const r = validateSubmit(b);
      expect(r.ok).toBe(false);
      expect(fieldsOf(r)).toContain("order.items[1].quantity");
    }
    const b = submitBody();
    b.order.items[0].price = "5,00";
    expect(fieldsOf(validateSubmit(b))).toContain("order.items[0].price");
    for (const bad of [-1, Infinity, null, true]) {
      const c = submitBody();
      c.order.items[0].price = bad;
      expect(fieldsOf(validateSubmit(c))).toContain("order.items[0].price");
    }
  });

  test("the docs' POS numbers: a numeric item price is accepted (display-only); a numeric amount is not", () => {
    const b = submitBody();
    b.order.items[0].price = 5;
    b.order.items[1].price = 15.5;
    expect(validateSubmit(b).ok).toBe(true);
    b.order.amount = 25;
    expect(fieldsOf(validateSubmit(b))).toContain("order.amount");
  });

  test("string OCID and numeric amount are rejected", () => {
    const b1 = submitBody();
    b1.order.ocid = "500";
    expect(fieldsOf(validateSubmit(b1))).toContain("order.ocid");
    const b2 = submitBody();
    b2.order.amount = 25;
    expect(fieldsOf(validateSubmit(b2))).toContain("order.amount");
    const b3 = submitBody();
    b3.order.accepts = ["100"];
    expect(fieldsOf(validateSubmit(b3))).toContain("order.accepts[0]");
  });

  test("all three members are required; urls may be {}", () => {
    for (const k of ["order", "signature", "urls"]) {
      const b = submitBody();
      delete b[k];
      expect(fieldsOf(validateSubmit(b))).toContain(k);
    }
    expect(validateSubmit({ ...submitBody(), urls: {} }).ok).toBe(true);
  });

  test("urls: absolute http(s), ≤ 2048 chars, ≤ 10 order URLs", () => {
    const with_ = (urls: unknown) => validateSubmit({ ...submitBody(), urls });
    expect(with_({ completed: "http://merchant.example/x" }).ok).toBe(true);
    expect(fieldsOf(with_({ completed: "ftp://merchant.example/x" }))).toContain("urls.completed");
    expect(fieldsOf(with_({ completed: "/relative" }))).toContain("urls.completed");
    expect(fieldsOf(with_({ completed: "javascript:alert(1)" }))).toContain("urls.completed");
    expect(fieldsOf(with_({ cancelled: "https://a.example/" + "x".repeat(2048) }))).toContain("urls.cancelled");
    expect(with_({ order: Array(10).fill("https://a.example/o") }).ok).toBe(true);
    expect(with_({ order: Array(11).fill("https://a.example/o") }).ok).toBe(false);
    expect(with_({ other: 1 }).ok).toBe(true); // other keys ignored
  });
});

describe("Order (§7.1)", () => {
  const order = () => submitBody().order;
  test("field rules", () => {
    const bad: Array<[string, (o: Record<string, any>) => void]> = [
      ["id", (o) => (o.id = "")],
      ["id", (o) => (o.id = "x".repeat(129))],
      ["id", (o) => (o.id = "a\u0000b")],
      ["id", (o) => (o.id = "a\u007fb")],
      ["ocid", (o) => (o.ocid = 0)],
      ["ocid", (o) => (o.ocid = 1.5)],
      ["ocid", (o) => (o.ocid = Number.MAX_SAFE_INTEGER + 1)],
      ["reference", (o) => (o.reference = "r".repeat(129))],
      ["currency", (o) => (o.currency = "usd")],
      ["currency", (o) => (o.currency = "US")],
      ["currency", (o) => (o.currency = "USDCXX")],
      ["memo", (o) => (o.memo = "m".repeat(513))],
      ["createdAt", (o) => (o.createdAt = 1706313600000)], // milliseconds
      ["createdAt", (o) => (o.createdAt = 0)],
      ["expiresAt", (o) => (o.expiresAt = "1706400000")],
      ["accepts", (o) => (o.accepts = Array(33).fill(100))],
      ["accepts[0]", (o) => (o.accepts = [0])],
      ["items", (o) => (o.items = Array(201).fill(o.items[0]))],
      ["items[0].name", (o) => (o.items[0].name = "")],
      ["items[0].name", (o) => (o.items[0].name = "n".repeat(257))],
      ["items[0].id", (o) => delete o.items[0].id],
    ];
    for (const [field, mutate] of bad) {
      const o = order();
      mutate(o);
      expect([field, fieldsOf(validateOrder(o)).includes(field)]).toEqual([field, true]);
    }
  });
  test("limits are inclusive and optional fields optional", () => {
    const o = order();
    o.id = "x".repeat(128);
    o.reference = "r".repeat(128);
    o.memo = "m".repeat(512);
    o.createdAt = 1e11;
    o.accepts = Array(32).fill(Number.MAX_SAFE_INTEGER);
    o.items = Array(200).fill({ id: "i", name: "n", quantity: 0.5, price: "0" });
    o.currency = "USDCX";
    expect(validateOrder(o).ok).toBe(true);
    const minimal = { id: "o", ocid: 1, amount: "1", currency: "USD", createdAt: 1 };
    expect(validateOrder(minimal).ok).toBe(true);
  });
  test("unknown fields are allowed at top level and in items", () => {
    const o = order();
    o.extra = { deep: [1] };
    o.items[0].sku = "abc";
    expect(validateOrder(o).ok).toBe(true);
  });
});

describe("Proof (§13.1)", () => {
  const proof = () => structuredClone(vectors.proof.object) as Record<string, any>;
  test("accepts the vector proof and a signed envelope", () => {
    expect(validateProof(proof()).ok).toBe(true);
    expect(compileValidator(SignedProof)({ proof: proof(), signature: vectors.proof.deep.signature }).ok).toBe(true);
  });
  test("from.ocid optional on receipt, to.ocid required, bare-OCID from/to rejected", () => {
    const p1 = proof();
    delete p1.from.ocid;
    expect(validateProof(p1).ok).toBe(true);
    const p2 = proof();
    delete p2.to.ocid;
    expect(fieldsOf(validateProof(p2))).toContain("to.ocid");
    const p3 = proof();
    p3.from = 200;
    p3.to = 300;
    const f = fieldsOf(validateProof(p3));
    expect(f).toContain("from");
    expect(f).toContain("to");
  });
  test("amount has the amount syntax; timestamp in seconds", () => {
    const p = proof();
    p.amount = 10000;
    expect(fieldsOf(validateProof(p))).toContain("amount");
    const q = proof();
    q.amount = "1e4";
    expect(fieldsOf(validateProof(q))).toContain("amount");
    const t = proof();
    t.timestamp = 1706500500000;
    expect(fieldsOf(validateProof(t))).toContain("timestamp");
  });
  test("the webhook envelope needs both members but leaves the proof's structure to INVALID_PROOF", () => {
    const v = compileValidator(TransferWebhookRequest);
    expect(v({ proof: { anything: 1 }, signature: "x" }).ok).toBe(true);
    expect(v({ proof: { anything: 1 } }).ok).toBe(false);
    expect(v({ signature: "x" }).ok).toBe(false);
  });
});

describe("other request schemas", () => {
  test("CheckoutCreateRequest", () => {
    const b = submitBody();
    const v = compileValidator(CheckoutCreateRequest);
    expect(v({ order: b.order, signature: b.signature, merchantOcid: 500, urls: { success: "https://m.example/s" } }).ok).toBe(true);
    expect(fieldsOf(v({ order: b.order, signature: b.signature, merchantOcid: "500", urls: {} }))).toContain("merchantOcid");
  });
  test("TransferCreateRequest", () => {
    const v = compileValidator(TransferCreateRequest);
    const ok = { from: { ocid: 101 }, to: { ocid: 200, reference: "user_1" }, amount: "10.00", currency: "USD" };
    expect(v(ok).ok).toBe(true);
    expect(fieldsOf(v({ ...ok, amount: 10 }))).toContain("amount");
    expect(fieldsOf(v({ ...ok, to: 200 }))).toContain("to");
  });
  test("MetadataDocument and FlatMetadataDocument", () => {
    expect(compileValidator(MetadataDocument)(vectors.config.metadataDocument).ok).toBe(true);
    const upper = { ...vectors.config.metadataDocument, signature: vectors.config.metadataDocument.signature.toUpperCase() };
    expect(compileValidator(MetadataDocument)(upper).ok).toBe(false); // we publish lowercase hex
    expect(compileValidator(FlatMetadataDocument)({ name: "x", publicKey: vectors.key.publicKey, endpoint: "https://x.example" }).ok).toBe(true);
  });
});

describe("pointerToPath", () => {
  test("JSON pointer → dotted path with [index]", () => {
    expect(pointerToPath("/order/items/3/quantity")).toBe("order.items[3].quantity");
    expect(pointerToPath("/accepts/0")).toBe("accepts[0]");
    expect(pointerToPath("/a~1b/c~0d")).toBe("a/b.c~d");
    expect(pointerToPath("")).toBe("");
  });
  test("root-level type errors are reported as (root)", () => {
    expect(fieldsOf(validateOrder("not an object"))).toContain("(root)");
  });
});

describe("jsonDepth / parseJsonObject (§9.1, §16: depth ≤ 32)", () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const objOfDepth = (depth: number) => `{"a":${nested(depth - 1)}}`;

  test("jsonDepth counts arrays and objects", () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth([1, [2, { a: [] }]])).toBe(4);
    expect(jsonDepth(JSON.parse(objOfDepth(32)))).toBe(32);
  });

  test("depth 32 accepted, depth 33 rejected", () => {
    expect(parseJsonObject(utf8(objOfDepth(MAX_JSON_DEPTH))).ok).toBe(true);
    expect(parseJsonObject(utf8(objOfDepth(MAX_JSON_DEPTH + 1)))).toEqual({ ok: false, reason: "too_deep" });
    let deepObj = "1";
    for (let i = 0; i < 33; i++) deepObj = `{"k":${deepObj}}`;
    expect(parseJsonObject(utf8(deepObj))).toEqual({ ok: false, reason: "too_deep" });
  });

  test("a 64 KiB body of nested brackets is rejected, not a stack overflow (regression)", () => {
    const body = objOfDepth(32_000);
    expect(body.length).toBeLessThanOrEqual(64 * 1024);
    expect(parseJsonObject(utf8(body))).toEqual({ ok: false, reason: "too_deep" });
    let v: unknown = 0;
    for (let i = 0; i < 200_000; i++) v = [v];
    expect(jsonDepth(v)).toBe(MAX_JSON_DEPTH + 1);
  });

  test("non-objects are rejected", () => {
    for (const s of ["[]", "[{}]", "1", "null", '"s"', "true"]) expect(parseJsonObject(utf8(s))).toEqual({ ok: false, reason: "not_an_object" });
  });

  test("malformed JSON is rejected", () => {
    for (const s of ["", "{", "{'a':1}", '{"a":1,}', '{"a":01}', '{"a":NaN}', "{} {}", '{"a":"\u0001"}'])
      expect([s, parseJsonObject(utf8(s))]).toEqual([s, { ok: false, reason: "malformed_json" }]);
  });

  test("invalid UTF-8 bytes are rejected (not replaced)", () => {
    const cases = [
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d], // {"a":"\xff"}
      [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d], // overlong "/"
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d], // encoded surrogate
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d], // truncated sequence
    ];
    for (const bytes of cases) expect(parseJsonObject(Uint8Array.from(bytes))).toEqual({ ok: false, reason: "invalid_utf8" });
  });

  test("valid UTF-8 object parses", () => {
    const r = parseJsonObject(utf8('{"name":"Café ☕ 😀"}'));
    expect(r).toEqual({ ok: true, value: { name: "Café ☕ 😀" } });
  });
});

describe("errors (§15)", () => {
  const SPEC_STATUS: Record<ErrorCode, number> = {
    INVALID_SIGNATURE: 401,
    TIMESTAMP_EXPIRED: 401,
    NONCE_REUSED: 401,
    UNKNOWN_OCID: 401,
    METADATA_UNAVAILABLE: 502,
    INVALID_REQUEST: 400,
    INVALID_AMOUNT: 400,
    ORDER_EXPIRED: 400,
    SETTLEMENT_NOT_SUPPORTED: 400,
    ACCOUNT_NOT_FOUND: 400,
    INVALID_PROOF: 400,
    PROOF_SIGNATURE_INVALID: 400,
    ISSUER_NOT_ACCEPTED: 400,
    INVALID_TOKEN: 401,
    PASSKEY_REJECTED: 400,
    INSUFFICIENT_FUNDS: 402,
    UNAUTHORIZED: 403,
    NOT_FOUND: 404,
    SESSION_NOT_FOUND: 404,
    SESSION_EXPIRED: 404,
    ORDER_NOT_FOUND: 404,
    ORDER_ALREADY_EXISTS: 409,
    INVALID_STATE: 409,
    SESSION_USED: 410,
    PAYLOAD_TOO_LARGE: 413,
    RATE_LIMITED: 429,
    INTERNAL_ERROR: 500,
    ACCOUNT_FROZEN: 403,
    IDEMPOTENCY_IN_PROGRESS: 409,
    IDEMPOTENCY_KEY_REUSED: 422,
    LIMIT_EXCEEDED: 422,
    REFUND_EXCEEDS_PAID: 422,
    KYC_STATE_INVALID: 400,
    CODE_NOT_RECOGNIZED: 400,
    CODE_EXPIRED: 400,
    NOT_A_MERCHANT: 400,
    ORDER_URL_REFUSED: 400,
    AMOUNT_REQUIRED: 400,
    MERCHANT_UNAVAILABLE: 502,
    MERCHANT_RESPONSE_INVALID: 502,
  };

  test("every code has the §15 status and a non-empty default message", () => {
    expect(Object.keys(ERRORS).sort()).toEqual(Object.keys(SPEC_STATUS).sort());
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      expect([code, statusOf(code)]).toEqual([code, SPEC_STATUS[code]]);
      expect(ERRORS[code][1].length).toBeGreaterThan(0);
    }
    expect(ERRORS.INTERNAL_ERROR[1]).toBe("Internal error");
  });

  test("errorBody: default message, custom message, details only when non-empty", () => {
    expect(errorBody("SESSION_USED")).toEqual({ error: { code: "SESSION_USED", message: "Session already used" } });
    expect("details" in errorBody("SESSION_USED", undefined, {}).error).toBe(false);
    expect("details" in errorBody("NOT_FOUND").error).toBe(false);
    expect(errorBody("INVALID_REQUEST", "Bad body", { fields: ["order.id"] })).toEqual({
      error: { code: "INVALID_REQUEST", message: "Bad body", details: { fields: ["order.id"] } },
    });
    expect(JSON.stringify(errorBody("SESSION_USED"))).toBe('{"error":{"code":"SESSION_USED","message":"Session already used"}}');
    const v = compileValidator(ErrorResponse);
    for (const code of Object.keys(ERRORS) as ErrorCode[]) expect(v(errorBody(code, undefined, { reason: "x" })).ok).toBe(true);
  });

  test("ProtocolError carries code, status, message and body", () => {
    const e = new ProtocolError("SETTLEMENT_NOT_SUPPORTED", undefined, { reason: "currency" }, { "Retry-After": "1" });
    expect(e).toBeInstanceOf(Error);
    expect(e.status).toBe(400);
    expect(e.message).toBe("Cannot settle with merchant");
    expect(e.headers).toEqual({ "Retry-After": "1" });
    expect(e.body()).toEqual({ error: { code: "SETTLEMENT_NOT_SUPPORTED", message: "Cannot settle with merchant", details: { reason: "currency" } } });
    const e2 = new ProtocolError("RATE_LIMITED", "Slow down");
    expect(e2.status).toBe(429);
    expect(e2.body()).toEqual({ error: { code: "RATE_LIMITED", message: "Slow down" } });
  });
});
