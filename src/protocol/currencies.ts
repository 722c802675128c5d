// ISO 4217 active codes with a minor unit (§6.1), as of the 2025 amendments (XCG replaced ANG; ZWG, VED, SLE
// current). Exponent 2 unless listed below. Codes without a minor unit (XAU, XDR, XSU, XUA, XXX, …) are excluded.
const ISO_CODES = `AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`;

const EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(" ");
const EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND".split(" ");
const EXPONENT_4 = "CLF UYW".split(" ");

export const CURRENCY_CODE_RE = /^[A-Z]{3,5}$/;

function isoExponent(code: string): number {
  if (EXPONENT_0.includes(code)) return 0;
  if (EXPONENT_3.includes(code)) return 3;
  if (EXPONENT_4.includes(code)) return 4;
  return 2;
}

export const ISO_4217: ReadonlyMap<string, number> = new Map(ISO_CODES.split(/\s+/).map((c) => [c, isoExponent(c)]));

export type CurrencyTable = ReadonlyMap<string, number>;

/**
 * The largest minor-unit exponent an operator may configure. Balances are SQLite 64-bit integers (so every ledger
 * update stays one atomic SQL statement with its floor check); at exponent 18 an account capped near 9.22 units.
 * At 9 every currency keeps a balance range of at least 9.2 billion units, which is what a wallet needs; tokens
 * with more on-chain decimals are carried at 9 here (amounts with more digits are refused, never rounded).
 * (128-bit balances would need TEXT columns and application-side arithmetic outside SQLite's atomic UPDATEs.)
 */
export const MAX_EXPONENT = 9;

/** Built-in ISO table plus operator codes (`currencies.extra`, e.g. {"USDC": 6}). */
export function buildCurrencyTable(extra: Record<string, number> = {}): CurrencyTable {
  const t = new Map(ISO_4217);
  for (const [code, exp] of Object.entries(extra)) {
    if (!CURRENCY_CODE_RE.test(code) || !Number.isInteger(exp) || exp < 0 || exp > MAX_EXPONENT)
      throw new Error(`currencies.extra: invalid entry ${code}`);
    t.set(code, exp);
  }
  return t;
}
