// Issue 13: what a payment app's camera can read, and what each code means. Pure. The recognisers are data: one
// entry per code format, tried in order, so a new format (e.g. person-to-person transfers) is one more entry plus
// its handler in flows/scan.ts. A recogniser answers null ("not mine"), a code, or a refusal saying what it was.
import { AmountSyntax, CurrencyCode, Ocid, Seconds, Url } from "./schemas";
import { compileValidator } from "./validate";
import type { ErrorCode } from "./errors";
import { Type as T } from "@sinclair/typebox";

/**
 * Codes we act on. URLs are as printed in the code; whether they sit under the merchant's endpoint is checked later.
 */
export type ScannedCode =
  /** POS display: a signed order waiting at `url` (the merchant's `GET /orders/:id`). */
  | { kind: "order"; ocid: number; url: string; expiresAt: number | null }
  /** Vending machine / kiosk: a permanent code for the merchant's `GET /inventory`. */
  | { kind: "inventory"; ocid: number; url: string; expiresAt: number | null }
  /** Printed sticker `opencharge:<ocid>[?amount=&currency=&ref=]`: a payment without a signed order. */
  | { kind: "payment"; ocid: number; amount?: string; currency?: string; ref?: string }
  /** Issue 17: another person's receive code `{"type":"ocid_transfer","ocid":…,"gateway":…}`: send them money. */
  | { kind: "ocid_transfer"; ocid: number; gateway: number }
  /** Issue 22: a hosted checkout page's own QR (`<webBaseUrl>/checkout/<session>`): approve it on this phone. */
  | { kind: "checkout"; url: string; sessionId: string };

export type ScanKind = ScannedCode["kind"];

export type CodeRefusal = { refused: ErrorCode; message?: string; details: Record<string, unknown> };

type Input = { text: string; json: Record<string, unknown> | null };
export type Recogniser = { name: string; recognise: (input: Input) => ScannedCode | CodeRefusal | null };

const isUrl = compileValidator(Url);
const isOcid = compileValidator(Ocid);
const isSeconds = compileValidator(Seconds);
const isAmount = compileValidator(AmountSyntax);
const isCurrency = compileValidator(CurrencyCode);
const isRef = compileValidator(T.String({ minLength: 1, maxLength: 128, pattern: "^[^\\u0000-\\u001F\\u007F]*$" }));

const refuse = (refused: ErrorCode, reason: string, extra: Record<string, unknown> = {}): CodeRefusal => ({
  refused,
  details: { reason, ...extra },
});

/** `{"ocid":…, "<member>":"<url>", "expiresAt":…}`, the shape of every JSON code in the docs. */
function jsonCode(
  input: Input,
  member: "order" | "inventory",
): { ocid: number; url: string; expiresAt: number | null } | CodeRefusal | null {
  const j = input.json;
  if (!j || typeof j[member] !== "string") return null;
  if (!isOcid(j.ocid).ok) return refuse("CODE_NOT_RECOGNIZED", "ocid");
  if (!isUrl(j[member]).ok) return refuse("CODE_NOT_RECOGNIZED", member);
  const exp = j.expiresAt;
  if (exp !== undefined && exp !== null && !isSeconds(exp).ok) return refuse("CODE_NOT_RECOGNIZED", "expiresAt");
  return { ocid: j.ocid as number, url: j[member] as string, expiresAt: (exp as number | null | undefined) ?? null };
}

/** A hosted checkout page's URL; whether it is ours (our web origin) is the handler's question. */
const CHECKOUT_URL_RE = /^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?\/checkout\/([0-9a-f]{32})\/?$/;

const STICKER_RE = /^opencharge:(?:\/\/)?([0-9]+)\/?(?:\?(.*))?$/i;

/** Tried in this order; the first non-null answer wins. */
export const RECOGNISERS: readonly Recogniser[] = [
  {
    name: "ocid_transfer",
    recognise: ({ json }) => {
      if (!json || json.type !== "ocid_transfer") return null;
      if (!isOcid(json.ocid).ok) return refuse("CODE_NOT_RECOGNIZED", "ocid");
      if (!isOcid(json.gateway).ok) return refuse("CODE_NOT_RECOGNIZED", "gateway");
      return { kind: "ocid_transfer", ocid: json.ocid as number, gateway: json.gateway as number };
    },
  },
  {
    name: "hosted_checkout",
    recognise: ({ text }) => {
      const m = CHECKOUT_URL_RE.exec(text);
      return m ? { kind: "checkout", url: text, sessionId: m[1]! } : null;
    },
  },
  {
    // A wallet's own pay code (§8.2) has the order-QR shape but points at `/orders/create/<session>`: the merchant
    // scans that one, the user cannot pay it.
    name: "wallet_pay_code",
    recognise: (input) => {
      const c = jsonCode(input, "order");
      if (!c || "refused" in c) return null;
      return /\/orders\/create\/[^/?#]+\/?(?:[?#].*)?$/.test(c.url)
        ? {
            refused: "NOT_A_MERCHANT",
            message: "This is a wallet's pay code: the merchant scans it, not you",
            details: { reason: "wallet_pay_code" },
          }
        : null;
    },
  },
  {
    name: "order",
    recognise: (input) => {
      const c = jsonCode(input, "order");
      return c && !("refused" in c) ? { kind: "order", ...c } : c;
    },
  },
  {
    name: "inventory",
    recognise: (input) => {
      const c = jsonCode(input, "inventory");
      return c && !("refused" in c) ? { kind: "inventory", ...c } : c;
    },
  },
  {
    name: "payment",
    recognise: ({ text }) => {
      const m = STICKER_RE.exec(text);
      if (!m) return /^opencharge:/i.test(text) ? refuse("CODE_NOT_RECOGNIZED", "uri") : null;
      const ocid = Number(m[1]);
      if (!/^[1-9]/.test(m[1]!) || !isOcid(ocid).ok) return refuse("CODE_NOT_RECOGNIZED", "ocid");
      const q = new URLSearchParams(m[2] ?? "");
      const out: ScannedCode = { kind: "payment", ocid };
      const amount = q.get("amount");
      const currency = q.get("currency");
      const ref = q.get("ref");
      if (amount !== null) {
        if (!isAmount(amount).ok) return refuse("INVALID_AMOUNT", "amount");
        out.amount = amount;
      }
      if (currency !== null) {
        if (!isCurrency(currency).ok) return refuse("CODE_NOT_RECOGNIZED", "currency");
        out.currency = currency;
      }
      if (ref !== null) {
        if (!isRef(ref).ok) return refuse("CODE_NOT_RECOGNIZED", "ref");
        out.ref = ref;
      }
      return out;
    },
  },
];

function asJsonObject(text: string): Record<string, unknown> | null {
  if (!text.startsWith("{")) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The scanned text → a code, or why it cannot be paid. Surrounding whitespace (scanners add newlines) is ignored. */
export function recogniseCode(
  raw: string,
  recognisers: readonly Recogniser[] = RECOGNISERS,
): ScannedCode | CodeRefusal {
  const text = raw.trim();
  const input: Input = { text, json: asJsonObject(text) };
  for (const r of recognisers) {
    const out = r.recognise(input);
    if (out) return out;
  }
  return refuse("CODE_NOT_RECOGNIZED", input.json ? "unknown_json" : "unknown_format");
}
