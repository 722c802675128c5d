// Issue 12: signature dialects — signing in a peer's encoding and hash mode, recognising which one verified,
// and proofs whose replacer form is the deep form byte for byte. The independent checks use @noble/secp256k1.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import * as secp from "@noble/secp256k1";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { canonDeep, canonReplacer } from "../../src/protocol/canonical";
import { digestOf, nextPlausible, PLAUSIBLE_DIALECTS, signAs, SPEC_DIALECT, type SignDialect } from "../../src/protocol/dialects";
import { parsePrivateKey, parsePublicKey, publicKeyHex } from "../../src/protocol/keys";
import { parseSignature, verifyString } from "../../src/protocol/signatures";
import { verifyObjectDialect } from "../../src/protocol/signed-objects";
import { issueProof } from "../../src/settlement/proofs";
import { migrate } from "../../src/store/db";
import { dialects, effectiveDialect } from "../../src/store/dialects";
import { der } from "../reliability/sig-encodings";

secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (k, m) => hmac(sha256, k, m);

const SK = parsePrivateKey("11".repeat(32))!;
const PUBHEX = publicKeyHex(SK);
const PUB = (parsePublicKey(PUBHEX) as { ok: true; point: Uint8Array }).point;
const enc = new TextEncoder();

describe("signAs", () => {
  const msg = "opencharge dialects";
  test("each encoding has its length, parses as itself, and is the same r,s as the SPEC form", () => {
    const spec = signAs(msg, SK, SPEC_DIALECT);
    expect(spec).toMatch(/^[0-9a-f]{128}(1b|1c)$/);
    const compact = signAs(msg, SK, { encoding: "compact128", hash: "sha256" });
    expect(compact).toBe(spec.slice(0, 128));
    const d = signAs(msg, SK, { encoding: "der", hash: "sha256" });
    expect(d).toBe(der(spec.slice(0, 64), spec.slice(64, 128))); // the test kit's own DER encoder
    for (const s of [spec, compact, d]) expect(verifyString(msg, s, PUB)).toBe(true);
    expect(parseSignature(d)).toMatchObject({ ok: true, encoding: "der" });
  });
  test("double-sha256 is what noble 3.x verifies with prehash left on, and never verifies as a single hash", () => {
    const s = signAs(msg, SK, { encoding: "compact128", hash: "double-sha256" });
    expect(verifyString(msg, s, PUB)).toBe(false);
    // The pitfall itself: noble 3 given sha256(m) with the default prehash: true hashes it again.
    expect(secp.verify(Buffer.from(s, "hex"), sha256(enc.encode(msg)), PUB)).toBe(true);
    expect(secp.verify(Buffer.from(s, "hex"), enc.encode(msg), PUB)).toBe(false);
    expect(digestOf(msg, "double-sha256")).toEqual(sha256(sha256(enc.encode(msg))));
  });
});

describe("verifyObjectDialect", () => {
  const order = { id: "o1", ocid: 500, amount: "1.00", currency: "USD", items: [{ id: "i", name: "n", quantity: 1, price: 1 }], createdAt: 1 };
  const sign = (s: string, hash: "sha256" | "double-sha256", encoding: SignDialect["encoding"] = "compact128") => signAs(s, SK, { encoding, hash });
  test("reports form, encoding and hash; single hash is tried in both forms before any double hash", () => {
    expect(verifyObjectDialect(order, sign(canonDeep(order), "sha256", "rsv130"), PUB, true)).toEqual({ form: "deep", encoding: "rsv130", hash: "sha256" });
    expect(verifyObjectDialect(order, sign(canonReplacer(order), "sha256", "der"), PUB, true)).toEqual({ form: "replacer", encoding: "der", hash: "sha256" });
    expect(verifyObjectDialect(order, sign(canonReplacer(order), "double-sha256"), PUB, true)).toEqual({ form: "replacer", encoding: "compact128", hash: "double-sha256" });
    expect(verifyObjectDialect(order, sign(canonReplacer(order), "sha256"), PUB, false)).toBeNull();
  });
  test("a tampered covered field fails in every dialect", () => {
    for (const hash of ["sha256", "double-sha256"] as const) {
      const sig = sign(canonDeep(order), hash);
      expect(verifyObjectDialect({ ...order, amount: "0.01" }, sig, PUB, true)).toBeNull();
      expect(verifyObjectDialect({ ...order, items: [{ ...order.items[0]!, price: 0.01 }] }, sig, PUB, true)).toBeNull();
    }
  });
});

test("nextPlausible walks the list once, skipping what was tried", () => {
  const seen: SignDialect[] = [];
  let d: SignDialect | null = SPEC_DIALECT;
  while (d) {
    seen.push(d);
    d = nextPlausible(d, seen);
  }
  expect(seen).toEqual([...PLAUSIBLE_DIALECTS]);
  expect(nextPlausible({ encoding: "der", hash: "double-sha256" })).toEqual({ encoding: "rsv130", hash: "double-sha256" });
});

describe("proofs we issue (issue 12 §2)", () => {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  const fields = { issuer: 200, from: { ocid: 200, reference: "user_1" }, to: { ocid: 500, reference: "ord_1" }, amount: "9.99", currency: "USD", timestamp: 1706500500 };

  test("top-level ocid/reference mirror `to`; the replacer string equals the deep string byte for byte", async () => {
    const p = await issueProof(db, SK, fields, null);
    expect(p.proof).toMatchObject({ ocid: 500, reference: "ord_1", to: { ocid: 500, reference: "ord_1" }, from: { ocid: 200, reference: "user_1" } });
    expect(canonReplacer(p.proof)).toBe(canonDeep(p.proof));
    // What the docs' webhook handler computes, verified by noble with the SPEC's helper shape:
    const docsForm = JSON.stringify(p.proof, Object.keys(p.proof).sort());
    expect(docsForm).toBe(canonDeep(p.proof));
    expect(docsForm).toContain('"to":{"ocid":500,"reference":"ord_1"}');
    expect(verifyString(docsForm, p.signature, PUB)).toBe(true);
    const stored = db.query<{ canonical: string }, [string]>("SELECT canonical FROM issued_proofs WHERE txid = ?").get(p.txid)!;
    expect(stored.canonical).toBe(docsForm);
  });

  test("missing references are filled with the txid, so the forms still coincide", async () => {
    const p = await issueProof(db, SK, { ...fields, from: { ocid: 300 }, to: { ocid: 500 } }, null);
    expect(p.proof).toMatchObject({ reference: p.txid, from: { ocid: 300, reference: p.txid }, to: { ocid: 500, reference: p.txid } });
    expect(canonReplacer(p.proof)).toBe(canonDeep(p.proof));
  });

  test("a tampered to, amount or top-level copy fails verification of the deep form (and of the replacer form)", async () => {
    const p = await issueProof(db, SK, fields, null);
    const tampered: Record<string, unknown>[] = [
      { ...p.proof, to: { ocid: 666, reference: "ord_1" } },
      { ...p.proof, to: { ocid: 500, reference: "ord_2" } },
      { ...p.proof, amount: "99.99" },
      { ...p.proof, from: { ocid: 201, reference: "user_1" } },
      { ...p.proof, ocid: 666 },
      { ...p.proof, reference: "other" },
    ];
    for (const t of tampered) {
      expect(verifyString(canonDeep(t), p.signature, PUB)).toBe(false);
      expect(verifyObjectDialect(t, p.signature, PUB, true)).toBeNull();
    }
  });

  test("signed in the recipient's dialect: compact for noble 2/3, DER for elliptic, double hash when recorded", async () => {
    const c = await issueProof(db, SK, fields, null, { encoding: "compact128", hash: "sha256" });
    expect(c.signature).toMatch(/^[0-9a-f]{128}$/);
    const d = await issueProof(db, SK, fields, null, { encoding: "der", hash: "sha256" });
    expect(d.signature.startsWith("30")).toBe(true);
    const dd = await issueProof(db, SK, fields, null, { encoding: "compact128", hash: "double-sha256" });
    expect(verifyString(canonDeep(dd.proof), dd.signature, PUB)).toBe(false);
    expect(secp.verify(Buffer.from(dd.signature, "hex"), sha256(enc.encode(canonDeep(dd.proof))), PUB)).toBe(true);
    expect(JSON.parse(c.body)).toEqual({ proof: c.proof, signature: c.signature });
  });
});

describe("the dialect store", () => {
  const db = new Database(":memory:", { strict: true });
  migrate(db);
  const d = dialects(db);
  test("SPEC default, observed, learned, override — in that order of precedence, each field on its own", () => {
    expect(d.signingFor(500)).toEqual(SPEC_DIALECT);
    expect(d.observe(500, { encoding: "der", hash: "sha256", form: "replacer" }, "order", 10)).toBe(true);
    expect(d.observe(500, { encoding: "der", hash: "sha256", form: "replacer" }, "order", 11)).toBe(false);
    expect(d.signingFor(500)).toEqual({ encoding: "der", hash: "sha256" });
    // Requests (no form) and orders (a form) from the same peer interleave without a write each time.
    const writes = () => db.query<{ n: number }, []>("SELECT total_changes() AS n").get()!.n;
    const w0 = writes();
    for (let i = 0; i < 5; i++) {
      expect(d.observe(500, { encoding: "der", hash: "sha256" }, "request", 20 + i)).toBe(false);
      expect(d.observe(500, { encoding: "der", hash: "sha256", form: "replacer" }, "order", 20 + i)).toBe(false);
    }
    expect(writes()).toBe(w0);
    d.learn(500, { encoding: "compact128", hash: "sha256" }, 12);
    expect(d.signingFor(500)).toEqual({ encoding: "compact128", hash: "sha256" });
    d.setOverride(500, { encoding: null, hash: "double-sha256" });
    expect(d.signingFor(500)).toEqual({ encoding: "compact128", hash: "double-sha256" });
    d.setOverride(500, { encoding: null, hash: null });
    // The peer's own signatures changed dialect: what it taught us before is dropped.
    expect(d.observe(500, { encoding: "rsv130", hash: "double-sha256" }, "request", 13)).toBe(true);
    expect(d.get(500)).toMatchObject({ form: "replacer", encoding: "rsv130", hash: "double-sha256", observedIn: "request", learnedEncoding: null });
    expect(effectiveDialect(d.get(500))).toEqual({ encoding: "rsv130", hash: "double-sha256" });
  });
});
