// Money beyond the vectors (§6.1–§6.4).
import { describe, expect, test } from "bun:test";
import { buildCurrencyTable, ISO_4217 } from "../../src/protocol/currencies";
import { amountsEqual, formatMinor, isAmountSyntax, parseAmount } from "../../src/protocol/money";

const table = buildCurrencyTable({ USDC: 6 });
const ALL = new Set(table.keys());
const minorOf = (s: string, currency: string, enabled: ReadonlySet<string> = ALL) => {
  const r = parseAmount(s, currency, table, enabled);
  return r.ok ? r.minor.toString() : r.code;
};

describe("ISO 4217 table (§6.1)", () => {
  test("current codes present, withdrawn / no-minor-unit codes absent", () => {
    for (const c of ["XCG", "ZWG", "SLE", "VED", "VES", "USD", "EUR", "UGX", "JPY", "KWD", "CLF", "UYW"]) expect([c, ISO_4217.has(c)]).toEqual([c, true]);
    for (const c of ["XAU", "XAG", "XDR", "XXX", "XTS", "XSU", "XUA", "HRK", "ANG", "USDC"]) expect([c, ISO_4217.has(c)]).toEqual([c, false]);
  });
  test("exponents as listed in §6.1", () => {
    const zero = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(" ");
    const three = "BHD IQD JOD KWD LYD OMR TND".split(" ");
    const four = "CLF UYW".split(" ");
    for (const c of zero) expect([c, ISO_4217.get(c)]).toEqual([c, 0]);
    for (const c of three) expect([c, ISO_4217.get(c)]).toEqual([c, 3]);
    for (const c of four) expect([c, ISO_4217.get(c)]).toEqual([c, 4]);
    const special = new Set([...zero, ...three, ...four]);
    for (const [c, e] of ISO_4217) if (!special.has(c)) expect([c, e]).toEqual([c, 2]);
    for (const c of ISO_4217.keys()) expect(c).toMatch(/^[A-Z]{3}$/);
    expect(ISO_4217.size).toBeGreaterThan(150);
  });
  test("buildCurrencyTable adds operator codes and rejects bad entries", () => {
    expect(table.get("USDC")).toBe(6);
    expect(ISO_4217.has("USDC")).toBe(false); // the built-in table is not mutated
    expect(buildCurrencyTable().get("USD")).toBe(2);
    const bads: Record<string, number>[] = [{ usdc: 6 }, { US: 2 }, { TOOLONG: 2 }, { ABC: -1 }, { ABC: 10 }, { ABC: 19 }, { ABC: 1.5 }];
    for (const bad of bads)
      expect(() => buildCurrencyTable(bad)).toThrow();
    expect(buildCurrencyTable({ ABCDE: 9 }).get("ABCDE")).toBe(9); // MAX_EXPONENT: every balance range >= 9.2e9 units
  });
});

describe("parseAmount (§6.2)", () => {
  test("exponent 0 (JPY)", () => {
    expect(minorOf("1", "JPY")).toBe("1");
    expect(minorOf("1.0", "JPY")).toBe("1");
    expect(minorOf("1.00", "JPY")).toBe("1");
    expect(minorOf("1.5", "JPY")).toBe("INVALID_AMOUNT");
    expect(minorOf("0.0", "JPY")).toBe("INVALID_AMOUNT");
  });
  test("exponent 3 (KWD)", () => {
    expect(minorOf("1.234", "KWD")).toBe("1234");
    expect(minorOf("0.001", "KWD")).toBe("1");
    expect(minorOf("1", "KWD")).toBe("1000");
    expect(minorOf("1.2340", "KWD")).toBe("1234");
    expect(minorOf("1.2345", "KWD")).toBe("INVALID_AMOUNT");
  });
  test("exponent 4 (CLF)", () => {
    expect(minorOf("1.2345", "CLF")).toBe("12345");
    expect(minorOf("0.0001", "CLF")).toBe("1");
    expect(minorOf("2", "CLF")).toBe("20000");
    expect(minorOf("0.00001", "CLF")).toBe("INVALID_AMOUNT");
  });
  test("at most 18 digits in minor units", () => {
    expect(minorOf("999999999999999999", "JPY")).toBe("999999999999999999");
    expect(minorOf("1000000000000000000", "JPY")).toBe("INVALID_AMOUNT");
    expect(minorOf("9999999999999999.99", "USD")).toBe("999999999999999999");
    expect(minorOf("10000000000000000", "USD")).toBe("INVALID_AMOUNT");
    expect(minorOf("999999999999.999999", "USDC")).toBe("999999999999999999");
    expect(minorOf("1000000000000", "USDC")).toBe("INVALID_AMOUNT");
    const r = parseAmount("1000000000000000000", "JPY", table, ALL);
    expect(r.ok ? null : r.reason).toBe("too_large");
  });
  test.each(["1e3", " 1", "1 ", "01", "00", "1.", ".5", "", "+1", "0x10", "1_000", "1.2.3", "NaN", "Infinity", "１", "1\n"])(
    "syntax: %p → INVALID_AMOUNT",
    (s) => {
      const r = parseAmount(s, "USD", table, ALL);
      expect(r).toMatchObject({ ok: false, code: "INVALID_AMOUNT", reason: "syntax", details: { reason: "syntax", decimals: 2 } });
      expect(r.ok ? "" : r.message).toContain("decimal string");
    },
  );
  test("the message names the rule: sign, decimal comma, decimals for the currency, zero, accepted currencies", () => {
    const why = (s: string, c = "USD", enabled: ReadonlySet<string> = ALL) => {
      const r = parseAmount(s, c, table, enabled);
      return r.ok ? null : { reason: r.reason, message: r.message, details: r.details };
    };
    expect(why("-5.00")).toMatchObject({ reason: "negative", details: { reason: "negative", amount: "-5.00" } });
    expect(why("-5.00")!.message).toContain("positive");
    expect(why("1,50")).toMatchObject({ reason: "decimal_comma" });
    expect(why("1,50")!.message).toContain("dot");
    expect(why("1.234")).toMatchObject({ reason: "precision", details: { decimals: 2, currency: "USD" } });
    expect(why("1.234")!.message).toBe('USD has 2 decimals; "1.234" has 3');
    expect(why("1.5", "JPY")!.message).toBe('JPY has 0 decimals; "1.5" has 1');
    expect(why("0.00")).toMatchObject({ reason: "zero" });
    expect(why("0.00")!.message).toContain("0.01 USD");
    const cur = why("1.00", "EUR", new Set(["USD", "JPY"]))!;
    expect(cur.details).toEqual({ reason: "currency", currency: "EUR", accepted: ["JPY", "USD"] });
    expect(cur.message).toContain("JPY, USD");
  });
  test("length limit: 32 characters ok, 33 not", () => {
    const s32 = "1." + "0".repeat(30);
    const s33 = "1." + "0".repeat(31);
    expect(s32.length).toBe(32);
    expect(s33.length).toBe(33);
    expect(minorOf(s32, "USD")).toBe("100");
    expect(minorOf(s33, "USD")).toBe("INVALID_AMOUNT");
    expect(minorOf("1".repeat(33), "USD")).toBe("INVALID_AMOUNT");
  });
  test("zero is invalid", () => {
    const r = parseAmount("0.00", "USD", table, ALL);
    expect(r).toMatchObject({ ok: false, code: "INVALID_AMOUNT", reason: "zero" });
  });
  test("unknown or not-enabled currency → SETTLEMENT_NOT_SUPPORTED, checked before the amount", () => {
    const enabled = new Set(["USD"]);
    expect(parseAmount("1.00", "XYZ", table, enabled)).toMatchObject({ ok: false, code: "SETTLEMENT_NOT_SUPPORTED", reason: "currency" });
    expect(parseAmount("1.00", "EUR", table, enabled)).toMatchObject({ ok: false, code: "SETTLEMENT_NOT_SUPPORTED", reason: "currency" });
    // enabled but not in the table (misconfiguration) is also not settleable
    expect(parseAmount("1.00", "XYZ", table, new Set(["XYZ"]))).toMatchObject({ ok: false, code: "SETTLEMENT_NOT_SUPPORTED" });
    expect(parseAmount("garbage", "EUR", table, enabled)).toMatchObject({ ok: false, code: "SETTLEMENT_NOT_SUPPORTED" });
    expect(parseAmount("1.00", "USD", table, enabled)).toEqual({ ok: true, minor: 100n });
  });
  test("random round trip: formatMinor ∘ parseAmount is the identity", () => {
    const codes = [...table.keys()];
    for (let i = 0; i < 500; i++) {
      const code = codes[Math.floor(Math.random() * codes.length)]!;
      const digits = 1 + Math.floor(Math.random() * 18);
      let s = String(1 + Math.floor(Math.random() * 9));
      for (let d = 1; d < digits; d++) s += String(Math.floor(Math.random() * 10));
      const minor = BigInt(s);
      const text = formatMinor(minor, code, table);
      const back = parseAmount(text, code, table, ALL);
      expect([code, text, back.ok && back.minor]).toEqual([code, text, minor]);
    }
  });
});

describe("isAmountSyntax (item prices, proof amounts)", () => {
  test("zero allowed, syntax and 32-char limit enforced", () => {
    expect(isAmountSyntax("0")).toBe(true);
    expect(isAmountSyntax("0.00")).toBe(true);
    expect(isAmountSyntax("5.123456789")).toBe(true);
    expect(isAmountSyntax("01")).toBe(false);
    expect(isAmountSyntax("-1")).toBe(false);
    expect(isAmountSyntax("1".repeat(32))).toBe(true);
    expect(isAmountSyntax("1".repeat(33))).toBe(false);
  });
});

describe("formatMinor (§6.3)", () => {
  test("exactly exponent fraction digits", () => {
    expect(formatMinor(2500n, "USD", table)).toBe("25.00");
    expect(formatMinor(0n, "USD", table)).toBe("0.00");
    expect(formatMinor(7n, "USD", table)).toBe("0.07");
    expect(formatMinor(10000n, "UGX", table)).toBe("10000");
    expect(formatMinor(0n, "JPY", table)).toBe("0");
    expect(formatMinor(1234n, "KWD", table)).toBe("1.234");
    expect(formatMinor(1n, "USDC", table)).toBe("0.000001");
    expect(formatMinor(12345n, "CLF", table)).toBe("1.2345");
    expect(formatMinor(999999999999999999n, "USD", table)).toBe("9999999999999999.99");
  });
  test("negative values keep their sign", () => {
    expect(formatMinor(-2500n, "USD", table)).toBe("-25.00");
    expect(formatMinor(-1n, "USD", table)).toBe("-0.01");
    expect(formatMinor(-5n, "KWD", table)).toBe("-0.005");
    expect(formatMinor(-10000n, "UGX", table)).toBe("-10000");
  });
  test("unknown currency throws", () => {
    expect(() => formatMinor(1n, "XYZ", table)).toThrow();
  });
});

describe("amountsEqual (§6.4)", () => {
  test("value equality within one currency", () => {
    expect(amountsEqual("1.5", "1.50", "USD", table)).toBe(true);
    expect(amountsEqual("25", "25.00", "USD", table)).toBe(true);
    expect(amountsEqual("1", "1.000", "JPY", table)).toBe(true);
    expect(amountsEqual("1.5", "1.51", "USD", table)).toBe(false);
    expect(amountsEqual("1.5", "abc", "USD", table)).toBe(false);
    expect(amountsEqual("1.5", "1.5", "XYZ", table)).toBe(false);
    expect(amountsEqual("1.001", "1.001", "USD", table)).toBe(false); // not a valid USD amount at all
  });
});
