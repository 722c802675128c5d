// Issue 13, pay by scanning: the user's camera read a merchant's code. `scanCode` recognises it (protocol/scan-codes)
// and runs the handler for its kind; each kind ends as an order awaiting this user's confirmation in a session of
// kind `scan` (an inventory first waits for the user's pick, `orderFromInventory`). From there confirm/decline,
// settlement, proof and webhook delivery are exactly those of submitted orders. Every refusal happens before the
// one transaction that writes, so a refused scan leaves nothing behind.
import type { Gateway } from "../gateway";
import type { User } from "../store/users";
import { ProtocolError } from "../protocol/errors";
import { randomHex } from "../protocol/hex";
import { Order, SessionOrderUrls, SignatureHex, type PeerMetadata } from "../protocol/schemas";
import { compileValidator } from "../protocol/validate";
import { recogniseCode, type ScannedCode, type ScanKind } from "../protocol/scan-codes";
import {
  checkPick,
  itemsMatch,
  normaliseInventory,
  priceMinor,
  type Inventory,
  type ScanOrderRequest,
} from "../protocol/inventory";
import { selectCandidates, type Candidate } from "../settlement/candidates";
import { amountOrThrow, orderNotExpiredOrThrow, storeOrder, verifyOrderOrThrow } from "./order-intake";
import { callMerchant, merchantHost, resolveMerchant, routeUnderEndpoint } from "./merchant-calls";
import { sessionOfUser } from "./answer-payment";
import { noPath } from "./submit-order";
import { assertNotFrozen } from "./user-limits";
import { sessionStatus } from "../store/sessions";
import type { SigForm } from "../protocol/signed-objects";
import { Type as T } from "@sinclair/typebox";
import { transferPrefill, type TransferPrefill } from "./scan-transfer";
import { scanHostedCheckout } from "./checkout-approve";

/** What reading a scanned code uses of the gateway (verifying a merchant's order, fetching an inventory). */
type ScanDeps = Pick<
  Gateway,
  | "clock"
  | "config"
  | "currencies"
  | "directory"
  | "enabledCurrencies"
  | "metadata"
  | "observeDialect"
  | "peers"
  | "store"
  | "verifier"
>;

export type ScanRequest = { qrContent: string; amount?: string; currency?: string };

export type MerchantCard = { ocid: number; name?: string; icon?: string; host: string };

export type ScanResult = {
  sessionId: string;
  kind: "order" | "inventory" | "payment" | "checkout";
  merchant: MerchantCard;
  order?: Record<string, unknown>;
  inventory?: Inventory;
  expiresAt: number;
};

/** What the merchant serves at `GET /orders/:id` and answers to `POST /orders/create`: `{order, signature, urls?}`. */
const SignedOrderReply = T.Object(
  { order: Order, signature: SignatureHex, urls: T.Optional(SessionOrderUrls) },
  { additionalProperties: true },
);
const checkSignedOrder = compileValidator(SignedOrderReply);

export function merchantCard(meta: PeerMetadata): MerchantCard {
  const m: MerchantCard = { ocid: meta.ocid, host: merchantHost(meta) };
  if (meta.name) m.name = meta.name;
  if (meta.icon) m.icon = meta.icon;
  return m;
}

type Handler<K extends ScanKind> = (
  gw: Gateway,
  user: User,
  code: Extract<ScannedCode, { kind: K }>,
  req: ScanRequest,
  raw: string,
) => Promise<ScanResult | TransferPrefill>;

/** One handler per recognised kind (see RECOGNISERS). */
const HANDLERS: { [K in ScanKind]: Handler<K> } = {
  order: scanOrder,
  inventory: scanInventory,
  payment: scanPayment,
  ocid_transfer: (gw, user, code) => transferPrefill(gw, user, code),
  checkout: (gw, user, code) => scanHostedCheckout(gw, user, code),
};

export async function scanCode(gw: Gateway, user: User, req: ScanRequest): Promise<ScanResult | TransferPrefill> {
  // A frozen user starts no payment (as with pay codes), so a till's order is not held by someone who cannot pay.
  await gw.store.read((tx) => assertNotFrozen(tx, user.id));
  const code = recogniseCode(req.qrContent);
  if ("refused" in code) throw new ProtocolError(code.refused, code.message, code.details);
  if ((code.kind === "order" || code.kind === "inventory") && code.expiresAt !== null && code.expiresAt < gw.clock())
    throw new ProtocolError("CODE_EXPIRED", undefined, { expiresAt: code.expiresAt });
  return (HANDLERS[code.kind] as Handler<ScanKind>)(gw, user, code, req, req.qrContent.trim());
}

// ---------------------------------------------------------------------------------------------------- kinds

async function scanOrder(
  gw: Gateway,
  user: User,
  code: Extract<ScannedCode, { kind: "order" }>,
  _req: ScanRequest,
  raw: string,
): Promise<ScanResult> {
  const meta = await resolveMerchant(gw, code.ocid);
  const route = routeUnderEndpoint(meta, code.url);
  const signed = await acceptSignedOrder(gw, meta, await callMerchant(gw, meta, "GET", route));
  return storeScannedOrder(gw, user, meta, signed, { code: raw, sourceUrl: code.url, kind: "order" });
}

async function scanInventory(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "directory" | "enabledCurrencies" | "peers" | "store">,
  user: User,
  code: Extract<ScannedCode, { kind: "inventory" }>,
  _req: ScanRequest,
  raw: string,
): Promise<ScanResult> {
  const meta = await resolveMerchant(gw, code.ocid);
  const route = routeUnderEndpoint(meta, code.url);
  const doc = await callMerchant(gw, meta, "GET", route);
  const inv = normaliseInventory(doc, meta.ocid);
  if (!inv.ok)
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The merchant's inventory is not usable", {
      reason: inv.reason,
      fields: inv.fields,
    });
  if (!gw.enabledCurrencies.has(inv.inventory.currency))
    throw new ProtocolError("SETTLEMENT_NOT_SUPPORTED", undefined, { reason: "currency" });
  const badPrice = inv.inventory.items.findIndex((i) => priceMinor(i.price, i.currency, gw.currencies) === null);
  if (badPrice >= 0)
    throw new ProtocolError(
      "MERCHANT_RESPONSE_INVALID",
      `Item ${inv.inventory.items[badPrice]!.id} has more decimals than ${inv.inventory.currency} allows`,
      { reason: "price", fields: [`items[${badPrice}].price`] },
    );
  const now = gw.clock();
  const sessionId = randomHex(16);
  const expiresAt = now + gw.config.sessionTtl;
  const inventoryJson = JSON.stringify(inv.inventory);
  await gw.store.transaction(async (tx) => {
    await tx.sessions.insert({
      id: sessionId,
      kind: "scan",
      userId: user.id,
      status: "pending",
      createdAt: now,
      expiresAt,
    });
    await tx.scans.insert({
      sessionId,
      kind: "inventory",
      merchantOcid: meta.ocid,
      code: raw,
      sourceUrl: code.url,
      inventoryJson,
      createdAt: now,
    });
  });
  return { sessionId, kind: "inventory", merchant: merchantCard(meta), inventory: inv.inventory, expiresAt };
}

async function scanPayment(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "directory" | "enabledCurrencies" | "metadata" | "store">,
  user: User,
  code: Extract<ScannedCode, { kind: "payment" }>,
  req: ScanRequest,
  raw: string,
): Promise<ScanResult> {
  const meta = await resolveMerchant(gw, code.ocid);
  for (const f of ["amount", "currency"] as const)
    if (code[f] !== undefined && req[f] !== undefined && code[f] !== req[f])
      throw new ProtocolError("INVALID_REQUEST", `The code fixes the ${f}; leave it out`, { fields: [f] });
  const amount = code.amount ?? req.amount;
  const currency = code.currency ?? req.currency;
  if (amount === undefined || currency === undefined) {
    const missing = [amount === undefined && "amount", currency === undefined && "currency"].filter(Boolean);
    const currencies = meta.settlement.currencies.filter((c) => gw.enabledCurrencies.has(c));
    throw new ProtocolError("AMOUNT_REQUIRED", undefined, {
      fields: missing,
      merchant: merchantCard(meta),
      currencies,
      currency,
    });
  }
  const amountMinor = amountOrThrow(gw, amount, currency);
  const accepts = meta.settlement.accepts;
  const candidates = await selectCandidates(gw.config, gw.directory, accepts, currency);
  if (candidates.length === 0) throw noPath(gw, accepts, currency);
  const now = gw.clock();
  const sessionId = randomHex(16);
  // No merchant signed this: the order is ours, built from the code. Its id is the sticker's ref (the proof's
  // to.reference), else one of ours; it settles like any order through what the merchant's metadata accepts.
  const order: Record<string, unknown> = {
    id: code.ref ?? `pay_${sessionId}`,
    ocid: meta.ocid,
    amount,
    currency,
    createdAt: now,
    accepts,
  };
  if (code.ref !== undefined) order.reference = code.ref;
  return storeScannedOrder(
    gw,
    user,
    meta,
    { order: order as Order, signature: "", sigForm: "deep", urls: {}, amountMinor, candidates },
    { code: raw, sourceUrl: null, kind: "payment", sessionId },
  );
}

// -------------------------------------------------------------------------------------------------- inventory → order

export async function orderFromInventory(
  gw: ScanDeps,
  user: User,
  sessionId: string,
  pick: ScanOrderRequest,
): Promise<ScanResult> {
  const { session, scan } = await gw.store.read(async (tx) => {
    const session = await sessionOfUser(tx, user, sessionId);
    await assertNotFrozen(tx, user.id);
    return { session, scan: session.kind === "scan" ? await tx.scans.get(sessionId) : null };
  });
  if (!scan) throw new ProtocolError("SESSION_NOT_FOUND");
  const st = sessionStatus(session, gw.clock());
  if (st === "expired") throw new ProtocolError("SESSION_EXPIRED");
  if (scan.kind !== "inventory" || st !== "pending")
    throw new ProtocolError("INVALID_STATE", `Not allowed while ${st}`, { status: st });
  const inventory = JSON.parse(scan.inventoryJson!) as Inventory;
  const checked = checkPick(inventory, pick, gw.currencies);
  if (!checked.ok) throw new ProtocolError("INVALID_REQUEST", checked.message, { fields: checked.fields });

  const meta = await resolveMerchant(gw, scan.merchantOcid);
  const reply = await callMerchant(gw, meta, "POST", "/orders/create", {
    items: pick.items,
    currency: inventory.currency,
  });
  const signed = await acceptSignedOrder(gw, meta, reply);
  const o = signed.order;
  if (o.currency !== inventory.currency)
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The merchant's order is in another currency", {
      reason: "currency_mismatch",
    });
  if (!itemsMatch(o.items, pick))
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The merchant's order lists other items than you picked", {
      reason: "items_mismatch",
    });
  if (signed.amountMinor !== checked.totalMinor)
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The merchant's order total differs from its prices", {
      reason: "amount_mismatch",
      amount: o.amount,
    });
  return storeScannedOrder(gw, user, meta, signed, {
    code: scan.code,
    sourceUrl: scan.sourceUrl,
    kind: "order",
    sessionId,
    fromInventory: true,
  });
}

// ---------------------------------------------------------------------------------------------------- shared

type SignedOrder = {
  order: Order;
  signature: string;
  sigForm: SigForm;
  urls: unknown;
  amountMinor: bigint;
  candidates: Candidate[];
};

/** The §9.4 checks for an order a merchant handed us: shape, owner, signature, expiry, amount, a settlement path. */
async function acceptSignedOrder(
  gw: Omit<ScanDeps, "peers" | "store">,
  meta: PeerMetadata,
  reply: Record<string, unknown>,
): Promise<SignedOrder> {
  const v = checkSignedOrder(reply);
  if (!v.ok)
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The merchant's order is malformed", {
      reason: "schema",
      fields: v.fields,
    });
  const { order, signature } = v.value;
  if (order.ocid !== meta.ocid)
    throw new ProtocolError("MERCHANT_RESPONSE_INVALID", "The order belongs to another merchant", {
      reason: "ocid_mismatch",
    });
  const sigForm = await verifyOrderOrThrow(gw, order, signature, meta.publicKey);
  orderNotExpiredOrThrow(order, gw.clock());
  const amountMinor = amountOrThrow(gw, order.amount, order.currency);
  const candidates = await selectCandidates(gw.config, gw.directory, order.accepts ?? [], order.currency);
  if (candidates.length === 0) throw noPath(gw, order.accepts ?? [], order.currency);
  return { order, signature, sigForm, urls: v.value.urls ?? {}, amountMinor, candidates };
}

/**
 * One transaction: the scan session (new, or the inventory session claimed), its scan record, and the order awaiting
 * this user. A second active order with the same merchant order id (§7.4, any user) rolls all of it back: 409.
 */
async function storeScannedOrder(
  gw: Pick<Gateway, "clock" | "config" | "store">,
  user: User,
  meta: PeerMetadata,
  s: SignedOrder,
  where: {
    code: string;
    sourceUrl: string | null;
    kind: "order" | "payment";
    sessionId?: string;
    fromInventory?: boolean;
  },
): Promise<ScanResult> {
  const { store, config } = gw;
  const at = gw.clock();
  const sessionId = where.sessionId ?? randomHex(16);
  const deadline = Math.min(s.order.expiresAt ?? Number.MAX_SAFE_INTEGER, at + config.confirmWindow);
  await store.transaction(async (tx) => {
    if (where.fromInventory) {
      if (!(await tx.sessions.claim(sessionId, at)) || !(await tx.scans.becomeOrder(sessionId, at))) {
        const now = (await tx.sessions.get(sessionId))!;
        throw now.status === "pending"
          ? new ProtocolError("SESSION_EXPIRED")
          : new ProtocolError("INVALID_STATE", `Not allowed while ${now.status}`, { status: now.status });
      }
    } else {
      await tx.sessions.insert({
        id: sessionId,
        kind: "scan",
        userId: user.id,
        status: "pending",
        createdAt: at,
        expiresAt: deadline,
      });
      await tx.sessions.claim(sessionId, at);
      await tx.scans.insert({
        sessionId,
        kind: where.kind,
        merchantOcid: meta.ocid,
        code: where.code,
        sourceUrl: where.sourceUrl,
        inventoryJson: null,
        createdAt: at,
      });
    }
    await storeOrder(
      tx,
      s.order,
      { signature: s.signature, sigForm: s.sigForm, urls: s.urls, amountMinor: s.amountMinor },
      {
        sessionId,
        // The merchant is the party that may poll GET /orders/{id}/status for this order (§9.5).
        callerOcid: meta.ocid,
        userId: user.id,
        confirmDeadline: deadline,
        candidates: s.candidates,
        now: at,
      },
    );
  });
  return {
    sessionId,
    kind: where.kind,
    merchant: merchantCard(meta),
    order: s.order as Record<string, unknown>,
    expiresAt: deadline,
  };
}
