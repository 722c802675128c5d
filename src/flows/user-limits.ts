// Issue 16: the one check every movement into or out of a user's account makes, inside its own transaction before
// the ledger write: frozen accounts move nothing, and no limit in force may be broken. Throws the §15-style error;
// the caller's transaction then rolls back, so nothing is half-written.
// Issue 21: the limits in force are the user's KYC tier's (domain/tiers.ts) with the operator's per-user values on
// top; the tier is read at the moment of the movement, so an expired verification counts for nothing at once.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { formatMinor } from "../protocol/money";
import {
  dayStart,
  firstViolation,
  limitApplies,
  type LimitName,
  type LimitSet,
  type MovementKind,
} from "../domain/limits";
import { effectiveLimits, qualifyingTier, type Tier } from "../domain/tiers";
import { userAccount } from "../store/ledger";
import type { Tx } from "../store";

export type TierSource = "operator" | "kyc" | "default";

/** The tier a user is in now: the operator's pin if it names a configured tier, else what their grants qualify for. */
export async function userTier(
  gw: Pick<Gateway, "clock" | "tiers">,
  tx: Tx,
  userId: string,
): Promise<{ tier: Tier | null; source: TierSource }> {
  if (gw.tiers.length === 0) return { tier: null, source: "default" };
  const pin = await tx.kyc.pinned(userId);
  const pinned = pin && gw.tiers.find((t) => t.name === pin.tier);
  if (pinned) return { tier: pinned, source: "operator" };
  const tier = qualifyingTier(gw.tiers, await tx.kyc.verifiedGrants(userId, gw.clock()))!;
  return { tier, source: tier === gw.tiers[0] ? "default" : "kyc" };
}

/** The limits in force for `userId` in `currency` when the user is in `tier` (from userTier). */
export async function limitsInForce(tx: Tx, userId: string, currency: string, tier: Tier | null): Promise<LimitSet> {
  return effectiveLimits(tier, currency, await tx.limits.forUser(userId, currency));
}

/** Inside the movement's own transaction, before its ledger write. */
export async function enforceUserMovement(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "tiers">,
  tx: Tx,
  userId: string,
  kind: MovementKind,
  currency: string,
  amount: bigint,
): Promise<void> {
  if (kind !== "withdrawal" && (await tx.users.frozenAt(userId)) !== null) throw frozen(userId);
  const { tier } = await userTier(gw, tx, userId);
  const limits = await limitsInForce(tx, userId, currency, tier);
  if (Object.keys(limits).length === 0) return;
  const account = userAccount(userId);
  // Only the facts a limit in force needs for this kind of movement are read. Reading the day's spending of a
  // credit's recipient as well made two opposite person-to-person sends deadlock on PostgreSQL (each held its
  // sender's per-day lock and waited for the other's).
  const needs = (limit: LimitName) => limitApplies(limits, limit, kind);
  const v = firstViolation(limits, {
    kind,
    amount,
    balance: needs("max_balance") ? await tx.ledger.balance(account, currency) : 0n,
    spentToday: needs("per_day") ? await tx.limits.spentSince(account, currency, dayStart(gw.clock())) : 0n,
  });
  if (v) throw limitExceeded(gw, v, currency, tier);
}

function frozen(userId: string): ProtocolError {
  return new ProtocolError("ACCOUNT_FROZEN", "This account is frozen; the operator must unfreeze it first", { userId });
}

function limitExceeded(
  gw: Pick<Gateway, "config" | "currencies">,
  v: NonNullable<ReturnType<typeof firstViolation>>,
  currency: string,
  tier: Tier | null,
): ProtocolError {
  const max = formatMinor(v.max, currency, gw.currencies);
  const where = tier
    ? ` (tier ${tier.name}${gw.config.kyc.providers.length ? "; verifying your identity may raise it" : ""})`
    : "";
  return new ProtocolError(
    "LIMIT_EXCEEDED",
    `This would exceed the user's ${v.limit} limit of ${max} ${currency}${where}`,
    {
      limit: v.limit,
      currency,
      max,
      ...(tier ? { tier: tier.name } : {}),
    },
  );
}

/** Frozen users cannot start a payment either (no pay session, no confirm). */
export async function assertNotFrozen(tx: Tx, userId: string): Promise<void> {
  if ((await tx.users.frozenAt(userId)) !== null)
    throw new ProtocolError("ACCOUNT_FROZEN", "This account is frozen", { userId });
}
