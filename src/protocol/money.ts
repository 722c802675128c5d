import type { CurrencyTable } from "./currencies";

const AMOUNT_RE = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const MAX_MINOR = 999_999_999_999_999_999n;

export type AmountReason = "currency" | "syntax" | "decimal_comma" | "negative" | "precision" | "zero" | "too_large";

export type AmountResult =
  | { ok: true; minor: bigint }
  | {
      ok: false;
      code: "INVALID_AMOUNT" | "SETTLEMENT_NOT_SUPPORTED";
      reason: AmountReason;
      /** Names the rule broken, for the error message (§15: a reason that says what to do). */
      message: string;
      details: Record<string, unknown>;
    };

const EXAMPLE = (exp: number) => (exp === 0 ? "12" : `12.${"5".padEnd(exp, "0")}`);

/** Why a string is not amount syntax: the three mistakes people make, then the generic rule. */
function syntaxReason(s: string): AmountReason {
  if (/^-/.test(s) && isAmountSyntax(s.slice(1))) return "negative";
  if (/^[0-9]+,[0-9]+$/.test(s)) return "decimal_comma";
  return "syntax";
}

const SYNTAX_MESSAGE: Record<string, (s: string, cur: string, exp: number) => string> = {
  negative: (_s, _c, exp) =>
    `Amount must be positive: write it without a sign (e.g. "${EXAMPLE(exp)}"); the direction says who pays`,
  decimal_comma: (s, _c, exp) =>
    `Amount "${s}" uses a comma: write a dot as the decimal separator (e.g. "${EXAMPLE(exp)}")`,
  syntax: (_s, _c, exp) =>
    `Amount must be a decimal string: digits, an optional "." and fraction, no sign, spaces, grouping, exponent or ` +
    `leading zeros (e.g. "${EXAMPLE(exp)}")`,
};

/** The amount-string syntax alone (used for item prices and proof amounts, §7.1, §13.1). */
export const isAmountSyntax = (s: string): boolean => s.length <= 32 && AMOUNT_RE.test(s);

/**
 * §6.2. `enabled` is the set of currencies this gateway settles; the exponent comes from `table`.
 * Currency first, because the exponent is needed to judge the fraction.
 */
export function parseAmount(
  s: string,
  currency: string,
  table: CurrencyTable,
  enabled: ReadonlySet<string>,
): AmountResult {
  const exp = table.get(currency);
  if (exp === undefined || !enabled.has(currency)) {
    const accepted = [...enabled].sort();
    const message = `Currency ${currency} is not settled here; accepted currencies: ${accepted.join(", ") || "none"}`;
    return {
      ok: false,
      code: "SETTLEMENT_NOT_SUPPORTED",
      reason: "currency",
      message,
      details: { reason: "currency", currency, accepted },
    };
  }
  const bad = (reason: AmountReason, message: string, extra: Record<string, unknown> = {}): AmountResult => ({
    ok: false,
    code: "INVALID_AMOUNT",
    reason,
    message,
    details: { reason, amount: s.slice(0, 64), currency, decimals: exp, ...extra },
  });
  if (!isAmountSyntax(s)) {
    const reason = syntaxReason(s);
    return bad(reason, SYNTAX_MESSAGE[reason]!(s.slice(0, 64), currency, exp));
  }
  const [intPart, frac = ""] = s.split(".") as [string, string?];
  if (frac.length > exp && /[^0]/.test(frac.slice(exp)))
    return bad(
      "precision",
      `${currency} has ${exp} decimal${exp === 1 ? "" : "s"}; "${s}" has ${frac.replace(/0+$/, "").length}`,
    );
  const minor = BigInt(intPart + frac.slice(0, exp).padEnd(exp, "0"));
  if (minor === 0n)
    return bad("zero", `Amount must be greater than zero (smallest: ${formatMinor(1n, currency, table)} ${currency})`);
  if (minor > MAX_MINOR)
    return bad("too_large", `Amount exceeds the maximum of ${formatMinor(MAX_MINOR, currency, table)} ${currency}`, {
      max: formatMinor(MAX_MINOR, currency, table),
    });
  return { ok: true, minor };
}

/** §6.3: minor units → exactly `exponent` fraction digits. Negative values keep their sign (ledger views). */
export function formatMinor(minor: bigint, currency: string, table: CurrencyTable): string {
  const exp = table.get(currency);
  if (exp === undefined) throw new Error(`unknown currency ${currency}`);
  const neg = minor < 0n;
  const digits = (neg ? -minor : minor).toString().padStart(exp + 1, "0");
  const out = exp === 0 ? digits : digits.slice(0, -exp) + "." + digits.slice(-exp);
  return neg ? "-" + out : out;
}

/** §6.4: equal value and identical currency. */
export function amountsEqual(a: string, b: string, currency: string, table: CurrencyTable): boolean {
  const all = new Set([currency]);
  const pa = parseAmount(a, currency, table, all);
  const pb = parseAmount(b, currency, table, all);
  return pa.ok && pb.ok && pa.minor === pb.minor;
}
