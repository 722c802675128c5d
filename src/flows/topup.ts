// Top-up through another gateway (issue 17; the docs' "balance refills"): we sign an order as this gateway (merchant =
// us, accepts = [us]) and ask gateway `via` to host its checkout (§9.6). The user pays on that page; `via` settles
// by crediting our account there and delivering its proof to our /transfer/webhook (§12.9), addressed to
// {ocid: us, reference: <top-up id>}. That proof credits the user exactly once (external:<via> → user).
import { t, type Static } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { randomHex } from "../protocol/hex";
import { formatMinor } from "../protocol/money";
import type { Proof } from "../protocol/schemas";
import { signObject } from "../protocol/signed-objects";
import { externalAccount, isBalanceOverflow, userAccount } from "../store/ledger";
import type { User } from "../store/users";
import type { Topup } from "../store/topups";
import { classify } from "../settlement/classify";
import { recordAnomaly } from "../settlement/settle-job";
import { amountOrThrow } from "./order-intake";
import { enforceUserMovement } from "./user-limits";
import type { Tx } from "../store";
import { CreditRefused } from "./credit-refused";

export const TopupRequest = t.Object(
  {
    via: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    amount: t.String({ minLength: 1, maxLength: 64 }),
    currency: t.String({ minLength: 1, maxLength: 8 }),
  },
  { additionalProperties: false },
);
export type TopupRequest = Static<typeof TopupRequest>;

export function topupView(r: Topup) {
  const v: Record<string, unknown> = {
    id: r.id,
    via: r.via,
    amount: r.amount,
    currency: r.currency,
    status: r.status,
    createdAt: r.createdAt,
  };
  if (r.checkoutUrl) v.checkoutUrl = r.checkoutUrl;
  if (r.txid) v.txid = r.txid;
  return v;
}

export async function topupOf(gw: Pick<Gateway, "store">, user: User, id: string) {
  const r = await gw.store.read((tx) => tx.topups.ofUser(id, user.id));
  if (!r) throw new ProtocolError("NOT_FOUND", "No such top-up");
  return topupView(r);
}

export async function startTopup(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "key" | "peers" | "store" | "tiers">,
  user: User,
  req: TopupRequest,
) {
  const { config } = gw;
  if (req.via === config.ocid)
    throw new ProtocolError("INVALID_REQUEST", "via must be another gateway", { fields: ["via"] });
  // Its proof must be one we take: otherwise the user would pay there and never be credited here.
  if (!config.acceptIssuers.includes(req.via))
    throw new ProtocolError(
      "SETTLEMENT_NOT_SUPPORTED",
      `This gateway does not accept proofs from ${req.via}: choose another gateway`,
      { reason: "via_not_accepted" },
    );
  const minor = amountOrThrow(gw, req.amount, req.currency);
  const amount = formatMinor(minor, req.currency, gw.currencies);
  const now = gw.clock();
  const id = "topup_" + randomHex(12);
  const order = {
    id,
    ocid: config.ocid,
    amount,
    currency: req.currency,
    items: [{ id: "topup", name: `Wallet top-up at ${config.name}`, quantity: 1, price: amount }],
    createdAt: now,
    expiresAt: now + config.checkoutTtl,
    accepts: [config.ocid],
  };
  // Issue 16: refused up front when the credit could never be made (frozen, or above the balance limit).
  await gw.store.read((tx) => enforceUserMovement(gw, tx, user.id, "credit", req.currency, minor));
  const signature = signObject(order, gw.key.secret).signature;
  const back = `${config.webBaseUrl}/?topup=${id}`;
  // Recorded first: a fast payer's proof must find the top-up it pays.
  const orderJson = JSON.stringify(order);
  await gw.store.transaction((tx) =>
    tx.topups.insert({
      id,
      userId: user.id,
      via: req.via,
      orderJson,
      amount,
      amountMinor: minor,
      currency: req.currency,
      now,
    }),
  );
  const res = await gw.peers.call(
    req.via,
    "POST",
    "/checkout/create",
    { order, signature, merchantOcid: config.ocid, urls: { success: back, cancel: `${back}&cancelled=1` } },
    {
      timeoutMs: config.outboundTimeouts.settlementMs,
    },
  );
  const out = classify(res);
  const forget = () => gw.store.transaction((tx) => tx.topups.dropPending(id));
  if (out.kind === "definite") {
    await forget(); // nothing can be paid against an order the gateway refused
    throw new ProtocolError(
      "SETTLEMENT_NOT_SUPPORTED",
      `Gateway ${req.via} refused the top-up (${out.code ?? out.reason})`,
      { reason: "checkout_refused" },
    );
  }
  if (out.kind === "ambiguous")
    throw new ProtocolError("METADATA_UNAVAILABLE", `Gateway ${req.via} did not answer: try again`, {
      reason: "checkout_unreachable",
    });
  const url = (out.res.json as { checkout_url?: unknown } | undefined)?.checkout_url;
  if (typeof url !== "string" || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    await forget();
    throw new ProtocolError("METADATA_UNAVAILABLE", `Gateway ${req.via} answered without a checkout URL`, {
      reason: "checkout_invalid",
    });
  }
  await gw.store.transaction((tx) => tx.topups.setCheckoutUrl(id, url));
  return { id, status: "pending", checkoutUrl: url, amount, currency: req.currency, via: req.via };
}

/**
 * Inside the webhook's transaction: the proof for a top-up credits its user once. It must come from the gateway
 * the top-up went through, for the same amount and currency; anything else is rejected and listed.
 */
export async function topupCredit(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "store" | "tiers">,
  tx: Tx,
  proof: Proof,
  minor: bigint,
  now: number,
) {
  const r = await tx.topups.byId(proof.to.reference!);
  const rejection = (message: string) => ({
    reply: { status: "rejected" as const, txid: proof.txid, message },
    anomaly: {
      kind: "topup_proof_rejected",
      orderId: null,
      jobId: null,
      detail: `${proof.issuer}/${proof.txid} for ${proof.to.reference}: ${message}`,
    },
  });
  const reject = async (message: string) => {
    const { reply, anomaly } = rejection(message);
    await recordAnomaly(gw, tx, anomaly.kind, null, null, anomaly.detail);
    return { reply, credited: null };
  };
  if (!r) return reject("unknown reference");
  if (r.via !== proof.issuer) return reject("top-up went through another gateway");
  if (r.currency !== proof.currency || r.amountMinor !== minor)
    return reject("amount or currency differs from the top-up");
  if (r.status !== "pending") return reject("top-up already credited");
  try {
    // Checked before anything is written, so a refusal is answered (and listed) within this transaction.
    await enforceUserMovement(gw, tx, r.userId, "credit", r.currency, minor);
  } catch (e) {
    // The user paid at `via` but may not receive it here now: listed for the operator, who settles it with `via`.
    if (e instanceof ProtocolError && (e.code === "ACCOUNT_FROZEN" || e.code === "LIMIT_EXCEEDED"))
      return reject(e.message);
    throw e;
  }
  try {
    await tx.topups.markCredited(r.id, proof.txid, now);
    await tx.ledger.move({
      from: externalAccount(proof.issuer),
      to: userAccount(r.userId),
      currency: r.currency,
      amount: minor,
      reason: "topup",
      ref: `${proof.issuer}|${proof.txid}`,
      now,
    });
  } catch (e) {
    if (!isBalanceOverflow(e)) throw e;
    // Nothing of it may stand: the webhook's transaction rolls back whole, then records this refusal.
    const { reply, anomaly } = rejection("amount exceeds the balance limit");
    throw new CreditRefused(reply, anomaly);
  }
  return {
    reply: { status: "accepted" as const, txid: proof.txid },
    credited: { userId: r.userId, kind: "topup" as const },
  };
}
