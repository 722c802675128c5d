// Issue 16: the events the operator's systems can subscribe to, and the Standard Webhooks signing rule
// (https://www.standardwebhooks.com): HMAC-SHA256 over `${id}.${timestamp}.${body}` with the endpoint's secret,
// sent as `webhook-signature: v1,<base64>`. Pure.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const EVENT_TYPES = [
  "payment.paid",
  "payment.failed",
  "order.in_review",
  "refund.pending",
  "refund.succeeded",
  "credit.received",
  "delivery.dead",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** `whsec_` + base64 of 32 random bytes (the format Standard Webhooks libraries accept). */
export const newSecret = (): string =>
  "whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

export function signatureHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = hmac(sha256, key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${Buffer.from(mac).toString("base64")}`,
  };
}

/** An endpoint subscribed to `*` hears every type, including ones added later. */
export const subscribes = (types: string[], type: string): boolean => types.includes("*") || types.includes(type);
