// Canonical strings beyond the vectors (§4.2, §4.5, §5).
import { describe, expect, test } from "bun:test";
import { canonDeep, canonReplacer, requestCanonical, responseCanonical } from "../../src/protocol/canonical";
import { EMPTY_SHA256 } from "../../src/protocol/hash";

describe("canonDeep (§5.1)", () => {
  test("scalars are exactly JSON.stringify", () => {
    for (const v of [null, true, false, 0, 1, -1, 1.5, 2.0, 1e21, 1e-7, 123456789012345680000, "", "a\"b\\c", "\u0000\u001f\u007f"])
      expect(canonDeep(v)).toBe(JSON.stringify(v));
    expect(canonDeep(2.0)).toBe("2");
    expect(canonDeep(-0)).toBe("0");
    expect(canonDeep(NaN)).toBe("null");
    expect(canonDeep(Infinity)).toBe("null");
    expect(canonDeep(-Infinity)).toBe("null");
  });

  test("non-ASCII, U+2028/U+2029 stay raw; lone surrogates are escaped as JSON.stringify does", () => {
    expect(canonDeep("é€😀\u2028\u2029")).toBe('"é€😀\u2028\u2029"');
    expect(canonDeep("\ud800")).toBe('"\\ud800"');
  });

  test("keys sorted by UTF-16 code units at every depth, integer-like keys included", () => {
    // "😀" is U+D83D U+DE00 in UTF-16, so it sorts before U+FB01 (code-point order would put it after)
    const obj = { b: { z: 1, "10": 2, "9": 3, A: 4 }, a: [{ y: 1, x: 2 }], "\ufb01": 0, "😀": 0, "2": 0, "10": 0 };
    expect(canonDeep(obj)).toBe('{"10":0,"2":0,"a":[{"x":2,"y":1}],"b":{"10":2,"9":3,"A":4,"z":1},"😀":0,"\ufb01":0}');
  });

  test("insertion order does not matter", () => {
    const a = { x: 1, y: { p: [1, 2], q: null }, z: "s" };
    const b = { z: "s", y: { q: null, p: [1, 2] }, x: 1 };
    expect(canonDeep(a)).toBe(canonDeep(b));
  });

  test("array order is kept; undefined elements become null; undefined members are dropped", () => {
    expect(canonDeep([3, 1, 2])).toBe("[3,1,2]");
    expect(canonDeep([undefined, 1])).toBe("[null,1]");
    expect(canonDeep({ a: undefined, b: 1, c: { d: undefined } })).toBe('{"b":1,"c":{}}');
    expect(canonDeep({})).toBe("{}");
    expect(canonDeep([])).toBe("[]");
  });

  test("no whitespace anywhere", () => {
    expect(canonDeep({ a: [1, { b: 2 }], c: "x y" })).toBe('{"a":[1,{"b":2}],"c":"x y"}');
  });

  test("keys that need escaping are escaped like JSON.stringify", () => {
    expect(canonDeep({ 'a"b': 1, "\n": 2 })).toBe('{"\\n":2,"a\\"b":1}');
  });

  test("objects without a prototype work", () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonDeep(o)).toBe('{"a":2,"b":1}');
  });

  test("equals JSON.stringify for already-sorted plain input without integer-like keys", () => {
    const v = { a: 1, b: [true, null, "x"], c: { d: 1.25, e: { f: "g" } } };
    expect(canonDeep(v)).toBe(JSON.stringify(v));
  });
});

describe("canonReplacer (§5.2)", () => {
  test("top-level keys sorted; nested keys kept only if they are also top-level names", () => {
    const v = { z: { a: 1, keep: 2, z: 3 }, a: 1, keep: [{ keep: 1, drop: 2 }] };
    expect(canonReplacer(v)).toBe('{"a":1,"keep":[{"keep":1}],"z":{"a":1,"keep":2,"z":3}}');
  });
  test("arrays of scalars are unaffected", () => {
    expect(canonReplacer({ b: [3, "x", null], a: 1 })).toBe('{"a":1,"b":[3,"x",null]}');
  });
  test("nested key order follows top-level order, not the nested object's", () => {
    expect(canonReplacer({ b: { b: 1, a: 2 }, a: 0 })).toBe('{"a":0,"b":{"a":2,"b":1}}');
  });
});

describe("requestCanonical (§4.2)", () => {
  const base = { ocid: "500", timestamp: "1706313700", nonce: "req_1", method: "post", path: "/opencharge/x?y=1&z=", bodyHash: EMPTY_SHA256 };
  test("six fields joined by LF, METHOD uppercased, path verbatim (query kept), no trailing newline", () => {
    const c = requestCanonical(base);
    expect(c).toBe(`500\n1706313700\nreq_1\nPOST\n/opencharge/x?y=1&z=\n${EMPTY_SHA256}`);
    expect(c.split("\n").length).toBe(6);
    expect(c.endsWith("\n")).toBe(false);
  });
  test("a bare trailing ? stays", () => {
    expect(requestCanonical({ ...base, path: "/opencharge/x?" }).split("\n")[4]).toBe("/opencharge/x?");
  });
  test("header values are used exactly as given (no numeric normalisation)", () => {
    expect(requestCanonical({ ...base, ocid: "0500" }).split("\n")[0]).toBe("0500");
  });
});

describe("responseCanonical (§4.5)", () => {
  test("ocid, timestamp, decimal status, body hash", () => {
    expect(responseCanonical(200, 1706313700, 404, EMPTY_SHA256)).toBe(`200\n1706313700\n404\n${EMPTY_SHA256}`);
    expect(responseCanonical("200", "1", 500, "ab")).toBe("200\n1\n500\nab");
  });
});
