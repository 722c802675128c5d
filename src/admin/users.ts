// Issue 16: the operator's user functions, shared by /admin and the CLI. Every mutation writes its audit row in
// the same transaction; `actor` is the API key's name or "cli".
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { formatMinor } from "../protocol/money";
import { balancesOf, createUserIn, OperatorError } from "../flows/accounts";
import { amountOrThrow } from "../flows/order-intake";
import { enforceUserMovement, limitsInForce, userTier } from "../flows/user-limits";
import { FUNDING, InsufficientFunds, isBalanceOverflow, userAccount } from "../store/ledger";
import type { LimitName } from "../domain/limits";
import type { User } from "../store/users";
import { emitEvent } from "../notify/operator-events";
import type { Tx } from "../store";

/** Inside a read or transaction: the user, or 404. */
export async function requireUser(tx: Tx, id: string): Promise<User> {
  const u = /^[a-z0-9]{1,32}$/.test(id) ? await tx.users.byId(id) : null;
  if (!u) throw new ProtocolError("NOT_FOUND", "No such user", { userId: id });
  return u;
}

export const userJson = async (tx: Tx, u: User) => ({
  id: u.id,
  name: u.name,
  createdAt: u.createdAt,
  frozen: (await tx.users.frozenAt(u.id)) !== null,
});

export async function limitsJson(gw: Pick<Gateway, "currencies">, tx: Tx, userId: string) {
  const out: Record<string, Record<string, string>> = {};
  for (const r of await tx.limits.allForUser(userId))
    (out[r.currency] ??= {})[r.limitName] = formatMinor(r.max, r.currency, gw.currencies);
  return out;
}

/** Issue 21: the tier in force and the limits it gives, with the per-user values on top (what enforcement uses). */
export async function tierJson(gw: Pick<Gateway, "clock" | "config" | "currencies" | "tiers">, tx: Tx, userId: string) {
  const { tier, source } = await userTier(gw, tx, userId);
  const limitsInForceJson: Record<string, Record<string, string>> = {};
  for (const currency of gw.config.currencies.enabled) {
    const set = Object.entries(await limitsInForce(tx, userId, currency, tier));
    if (set.length)
      limitsInForceJson[currency] = Object.fromEntries(
        set.map(([k, v]) => [k, formatMinor(v!, currency, gw.currencies)]),
      );
  }
  return {
    name: tier?.name ?? null,
    source,
    pinned: (await tx.kyc.pinned(userId))?.tier ?? null,
    verifiedGrants: [...(await tx.kyc.verifiedGrants(userId, gw.clock()))].sort(),
    limitsInForce: limitsInForceJson,
  };
}

export function userDetail(gw: Gateway, id: string) {
  return gw.store.read(async (tx) => {
    const u = await requireUser(tx, id);
    return {
      user: await userJson(tx, u),
      balances: await balancesOf(gw, tx, userAccount(u.id)),
      limits: await limitsJson(gw, tx, u.id),
      tier: await tierJson(gw, tx, u.id),
    };
  });
}

/** Issue 21: pin a user to a tier (or unpin with null), with its audit row in the same transaction. */
export async function setUserTier(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "store" | "tiers">,
  actor: string,
  id: string,
  tier: string | null,
) {
  const now = gw.clock();
  return gw.store.transaction(async (tx) => {
    const u = await requireUser(tx, id);
    if (tier !== null && !gw.tiers.some((t) => t.name === tier))
      throw new ProtocolError(
        "INVALID_REQUEST",
        `tier must be one of: ${gw.tiers.map((t) => t.name).join(", ") || "(no tiers configured)"}`,
        { fields: ["tier"] },
      );
    const before = (await userTier(gw, tx, u.id)).tier?.name ?? null;
    await tx.kyc.setPinned(u.id, tier, actor, now);
    await tx.audit.append(actor, "users.set_tier", { userId: u.id, tier, before }, now);
    return { userId: u.id, tier: await tierJson(gw, tx, u.id) };
  });
}

export function adminCreateUser(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "store">,
  actor: string,
  name: string,
) {
  return gw.store.transaction(async (tx) => {
    let created;
    try {
      created = await createUserIn(gw, tx, name);
    } catch (e) {
      if (e instanceof OperatorError) throw new ProtocolError("INVALID_REQUEST", e.message, { fields: ["name"] });
      throw e;
    }
    await tx.audit.append(actor, "users.create", { name, userId: created.user.id }, gw.clock());
    return { user: { id: created.user.id, name: created.user.name }, token: created.token };
  });
}

export function setFrozen(gw: Pick<Gateway, "clock" | "store">, actor: string, id: string, frozen: boolean) {
  const now = gw.clock();
  return gw.store.transaction(async (tx) => {
    const u = await requireUser(tx, id);
    const changed = await tx.users.setFrozen(u.id, frozen ? now : null);
    await tx.audit.append(actor, frozen ? "users.freeze" : "users.unfreeze", { userId: u.id, changed }, now);
    return { user: await userJson(tx, u) };
  });
}

export async function rotateUserToken(
  gw: Pick<Gateway, "clock" | "config" | "hub" | "store">,
  actor: string,
  id: string,
) {
  const now = gw.clock();
  const rotated = await gw.store.transaction(async (tx) => {
    const u = await requireUser(tx, id);
    const token = await tx.users.rotateToken(u.id, now, gw.config.tokenTtl);
    await tx.audit.append(actor, "users.rotate_token", { userId: u.id }, now);
    return { user: { id: u.id, name: u.name }, token };
  });
  // The old token's open sockets close at once (4401) when the server is this process; another process's server
  // closes them on its token sweep (src/app/hub.ts).
  gw.hub.recheck(rotated.user.id).catch(() => {}); // a failed check is retried by the token sweep
  return rotated;
}

export type MovementJson = {
  id: string;
  kind: "credit" | "debit";
  account: string;
  currency: string;
  amount: string;
  balance: string;
  createdAt: number;
};

type FundingMove = {
  actor: string;
  account: string;
  kind: "credit" | "debit";
  currency: string;
  minor: bigint;
  /** the ledger reason of this movement */
  reason: string;
  /** what a debit larger than the balance answers (402 INSUFFICIENT_FUNDS) */
  tooLow: string;
  now: number;
};

/**
 * One movement between an account and `funding`, the books' edge, for the operator's user and peer credits and
 * debits: a debit below the floor is 402, a credit the account cannot hold is 400 `balance_limit`.
 */
export async function moveAgainstFunding(tx: Tx, m: FundingMove): Promise<string> {
  try {
    return await tx.ledger.move({
      from: m.kind === "credit" ? FUNDING : m.account,
      to: m.kind === "credit" ? m.account : FUNDING,
      currency: m.currency,
      amount: m.minor,
      reason: m.reason,
      ref: `admin:${m.actor}`,
      now: m.now,
    });
  } catch (e) {
    if (e instanceof InsufficientFunds) throw new ProtocolError("INSUFFICIENT_FUNDS", m.tooLow);
    if (isBalanceOverflow(e))
      throw new ProtocolError("INVALID_AMOUNT", "Amount exceeds the balance limit", { reason: "balance_limit" });
    throw e;
  }
}

/** The answer for a movement: its amount and the account's balance after it. */
export async function movementJson(
  gw: Pick<Gateway, "currencies">,
  tx: Tx,
  m: { id: string; kind: "credit" | "debit"; account: string; currency: string; minor: bigint; now: number },
): Promise<MovementJson> {
  const { id, kind, account, currency, minor, now } = m;
  return {
    id,
    kind,
    account,
    currency,
    amount: formatMinor(minor, currency, gw.currencies),
    balance: formatMinor(await tx.ledger.balance(account, currency), currency, gw.currencies),
    createdAt: now,
  };
}

/**
 * A credit (money in: deposit, top-up) or debit (withdrawal, cash-out) of a user's account against `funding`, the
 * books' edge, in `tx` (the idempotency wrapper's). Credits obey frozen state and limits.
 */
export async function moveUserFunds(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "events" | "tiers">,
  tx: Tx,
  actor: string,
  id: string,
  kind: "credit" | "debit",
  currency: string,
  amount: string,
): Promise<MovementJson> {
  const u = await requireUser(tx, id);
  const minor = amountOrThrow(gw, amount, currency);
  const account = userAccount(u.id);
  const now = gw.clock();
  await enforceUserMovement(gw, tx, u.id, kind === "credit" ? "credit" : "withdrawal", currency, minor);
  const reason = kind === "credit" ? "funding" : "withdrawal";
  const tooLow = "The user's balance is too low for this debit";
  const movementId = await moveAgainstFunding(tx, { actor, account, kind, currency, minor, reason, tooLow, now });
  await tx.audit.append(
    actor,
    kind === "credit" ? "users.credit" : "users.debit",
    { userId: u.id, currency, amount, movementId },
    now,
  );
  if (kind === "credit")
    await emitEvent(gw, tx, "credit.received", {
      userId: u.id,
      currency,
      amount: formatMinor(minor, currency, gw.currencies),
      source: "operator",
      movementId,
    });
  return movementJson(gw, tx, { id: movementId, kind, account, currency, minor, now });
}

const LIMIT_FIELDS: Record<string, LimitName> = {
  perPayment: "per_payment",
  perDay: "per_day",
  maxBalance: "max_balance",
};

/** `{currency, perPayment?, perDay?, maxBalance?}`: a decimal sets a limit, null removes it, absent leaves it. */
export async function setUserLimits(
  gw: Pick<Gateway, "clock" | "currencies" | "enabledCurrencies" | "store">,
  actor: string,
  id: string,
  body: { currency: string } & Record<string, unknown>,
) {
  const now = gw.clock();
  return gw.store.transaction(async (tx) => {
    const u = await requireUser(tx, id);
    const changes: [LimitName, bigint | null][] = [];
    for (const [field, name] of Object.entries(LIMIT_FIELDS)) {
      const v = body[field];
      if (v === undefined) continue;
      if (v !== null && typeof v !== "string")
        throw new ProtocolError("INVALID_REQUEST", `${field} must be a decimal string or null`, { fields: [field] });
      changes.push([name, v === null ? null : amountOrThrow(gw, v, body.currency)]);
    }
    for (const [name, max] of changes) await tx.limits.set(u.id, body.currency, name, max, now);
    await tx.audit.append(actor, "users.set_limits", { userId: u.id, ...body }, now);
    return { userId: u.id, limits: await limitsJson(gw, tx, u.id) };
  });
}
