// Display helpers. Amounts are shown exactly as the server formats them (§6.3); nothing is re-rounded.
import type { OrderStatus } from "../src/protocol/order-status";

export const money = (amount: string, currency: string) => `${amount} ${currency}`;

export function countdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function when(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export const merchantName = (m: { ocid: number; name?: string } | null | undefined) => (m?.name ? m.name : m ? `Merchant ${m.ocid}` : "Merchant");

/** "OCID 510 · pos.cafe.example": who the merchant is beyond the name it gives itself (issue 19). */
export const merchantIdentity = (m: { ocid: number; host?: string }) => (m.host ? `OCID ${m.ocid} · ${m.host}` : `OCID ${m.ocid}`);

export type Tone = "ok" | "bad" | "wait" | "";

type StatusWords = { text: string; short: string; tone: Tone; final: boolean };

/** Order statuses (§11.1) plus session outcomes, as words a user understands: one entry per status of the list. */
const STATUS_WORDS: Record<OrderStatus | "cancelled", StatusWords> = {
  awaiting_confirmation: { text: "Waiting for your answer", short: "Waiting", tone: "", final: false },
  confirmed: { text: "Confirmed — completing payment…", short: "Processing", tone: "wait", final: false },
  in_review: { text: "Confirmed — under review", short: "In review", tone: "wait", final: false },
  paid: { text: "Paid", short: "Paid", tone: "ok", final: true },
  declined: { text: "Declined", short: "Declined", tone: "bad", final: true },
  expired: { text: "Expired", short: "Expired", tone: "bad", final: true },
  failed: { text: "Failed — your money was returned", short: "Refunded", tone: "bad", final: true },
  cancelled: { text: "Cancelled", short: "Cancelled", tone: "bad", final: true },
};

export function statusText(status: string): StatusWords {
  return Object.hasOwn(STATUS_WORDS, status)
    ? STATUS_WORDS[status as keyof typeof STATUS_WORDS]
    : { text: status, short: status, tone: "", final: false };
}

/** Only http(s) URLs are ever navigated to. */
export function safeHttpUrl(u: unknown): string | null {
  if (typeof u !== "string") return null;
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** The other party of a transfer or credit (issue 17): a name when known, else their OCID, else their gateway. */
export function partyName(p: { name?: string; ocid?: number; gateway?: number; reference?: string; userId?: string }): string {
  if (p.name) return p.name;
  if (p.reference && /^[1-9][0-9]*$/.test(p.reference)) return `OCID ${p.reference}`;
  if (p.ocid !== undefined && p.ocid !== p.gateway) return `OCID ${p.ocid}`;
  return p.gateway !== undefined ? `gateway ${p.gateway}` : "someone";
}

/** Transfer statuses as words. */
export function transferText(status: string): { text: string; tone: Tone } {
  switch (status) {
    case "paid":
      return { text: "Sent", tone: "ok" };
    case "pending":
      return { text: "Sending — waiting for their gateway", tone: "wait" };
    case "refunded":
      return { text: "Refused — your money was returned", tone: "bad" };
    default:
      return { text: status, tone: "" };
  }
}
