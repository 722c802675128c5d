// Issue 22, approve on the phone: the hosted checkout page (desktop) shows a QR of its own URL; the shopper opens it
// on the phone the wallet is on (camera, or the wallet's scanner: protocol/scan-codes recognises it), confirms
// there, and the desktop page follows the outcome here, without signing in. The 128-bit session id in the URL is
// the capability; this view tells its holder only the outcome and where the merchant wants the browser next.
import QRCode from "qrcode";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { expireIfDue, redirectFor } from "./answer-payment";
import type { SessionRow } from "../store/sessions";
import type { User } from "../store/users";
import type { ScannedCode } from "../protocol/scan-codes";
import type { ScanResult } from "./scan";
import { merchantCard } from "./scan";
import { sessionOfUser } from "./answer-payment";
import { resolveMerchant } from "./merchant-calls";
import { webOrigin } from "./sign-in";

/** Order statuses that send the browser to the merchant's success URL, and those that send it to cancel. */
const SUCCESS = new Set(["confirmed", "paid", "in_review"]);
const CANCEL = new Set(["declined", "expired", "failed"]);

function checkoutSession(s: SessionRow | null): SessionRow {
  if (!s || s.kind !== "checkout")
    throw new ProtocolError("SESSION_NOT_FOUND", "No hosted checkout with this id", { reason: "not_checkout" });
  return s;
}

export const checkoutUrl = (gw: Pick<Gateway, "config">, id: string) => `${gw.config.webBaseUrl}/checkout/${id}`;

export type CheckoutOutcome = { sessionId: string; status: string; final: boolean; redirect?: string };

export async function checkoutOutcome(
  gw: Pick<Gateway, "clock" | "hub" | "store">,
  id: string,
): Promise<CheckoutOutcome> {
  const { s, found } = await gw.store.read(async (tx) => {
    const s = checkoutSession(await tx.sessions.get(id));
    return { s, found: await tx.orders.bySession(s.id) };
  });
  if (!found) throw new ProtocolError("SESSION_NOT_FOUND", "No hosted checkout with this id", { reason: "no_order" });
  const o = await expireIfDue(gw, found);
  const final = SUCCESS.has(o.status) || CANCEL.has(o.status);
  const out: CheckoutOutcome = { sessionId: s.id, status: o.status, final };
  const redirect = final ? redirectFor(o, SUCCESS.has(o.status) ? "success" : "cancel") : undefined;
  if (redirect) out.redirect = redirect;
  return out;
}

/** The QR the desktop page shows: this checkout's own URL, so a phone camera opens the same page. Open ones only. */
export async function checkoutQrSvg(gw: Gateway, id: string): Promise<string> {
  const outcome = await checkoutOutcome(gw, id);
  if (outcome.final)
    throw new ProtocolError("INVALID_STATE", "This checkout was already answered", { status: outcome.status });
  return QRCode.toString(checkoutUrl(gw, id), { type: "svg", errorCorrectionLevel: "M", margin: 2 });
}

/**
 * The wallet's scanner read a checkout page's QR: ours (our web origin) opens the same confirm/decline screen as
 * the page itself, for this user (anyone may answer a hosted checkout until someone does).
 */
export async function scanHostedCheckout(
  gw: Pick<Gateway, "clock" | "config" | "directory" | "hub" | "store">,
  user: User,
  code: Extract<ScannedCode, { kind: "checkout" }>,
): Promise<ScanResult> {
  if (new URL(code.url).origin !== webOrigin(gw))
    throw new ProtocolError(
      "NOT_A_MERCHANT",
      "This is another wallet's checkout page: open it in a browser to pay there",
      {
        reason: "other_wallet_checkout",
      },
    );
  const { s, found } = await gw.store.read(async (tx) => {
    const s = await sessionOfUser(tx, user, code.sessionId);
    return { s, found: s.kind === "checkout" ? await tx.orders.bySession(s.id) : null };
  });
  if (!found)
    throw new ProtocolError("SESSION_NOT_FOUND", "No hosted checkout with this id", { reason: "not_checkout" });
  const o = await expireIfDue(gw, found);
  if (o.status !== "awaiting_confirmation")
    throw new ProtocolError("INVALID_STATE", `Not allowed while ${o.status}`, { status: o.status });
  const meta = await resolveMerchant(gw, o.merchantOcid);
  return {
    sessionId: s.id,
    kind: "checkout",
    merchant: merchantCard(meta),
    order: JSON.parse(o.orderJson),
    expiresAt: o.confirmDeadline,
  };
}
