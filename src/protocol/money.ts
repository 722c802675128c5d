import type { CurrencyTable } from "./currencies";

const AMOUNT_RE = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const MAX_MINOR = 999_999_999_999_999_999n;

export type AmountResult =
  | { ok: true; minor: bigint }
  | { ok: false; code: "INVALID_AMOUNT" | "SETTLEMENT_NOT_SUPPORTED"; reason: string };

/** The amount-string syntax alone (used for item prices and proof amounts, §7.1, §13.1). */
export const isAmountSyntax = (s: string): boolean => s.length <= 32 && AMOUNT_RE.test(s);

/**
 * §6.2. `enabled` is the set of currencies this gateway settles; the exponent comes from `table`.
 * Currency first, because the exponent is needed to judge the fraction.
 */
export function parseAmount(s: string, currency: string, table: CurrencyTable, enabled: ReadonlySet<string>): AmountResult {
  const exp = table.get(currency);
  if (exp === undefined || !enabled.has(currency)) return { ok: false, code: "SETTLEMENT_NOT_SUPPORTED", reason: "currency" };
  if (!isAmountSyntax(s)) return { ok: false, code: "INVALID_AMOUNT", reason: "syntax" };
  const [intPart, frac = ""] = s.split(".") as [string, string?];
  if (frac.length > exp && /[^0]/.test(frac.slice(exp))) return { ok: false, code: "INVALID_AMOUNT", reason: "precision" };
  const minor = BigInt(intPart + frac.slice(0, exp).padEnd(exp, "0"));
  if (minor === 0n) return { ok: false, code: "INVALID_AMOUNT", reason: "zero" };
  if (minor > MAX_MINOR) return { ok: false, code: "INVALID_AMOUNT", reason: "too_large" };
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
