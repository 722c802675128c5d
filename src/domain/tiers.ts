// Issue 21: KYC tiers as data. Pure: the configured tiers (lowest first), which tier a set of verified grants
// qualifies for, and the limits a user ends up with. One mechanism with issue 16's limits: a tier supplies the
// limits a user gets; an operator's per-user limit (user_limits) for the same currency and name replaces the tier's
// value (raise or lower), and an operator's pinned tier replaces the tier the grants qualify for.
import { parseAmount } from "../protocol/money";
import type { CurrencyTable } from "../protocol/currencies";
import type { LimitName, LimitSet } from "./limits";

export type Tier = { name: string; grants: readonly string[]; limits: ReadonlyMap<string, LimitSet> };
export type TierConfig = {
  name: string;
  grants: string[];
  limits: Record<string, { perPayment?: string; perDay?: string; maxBalance?: string }>;
};

/** Config field → limit name (the same words the admin API uses). */
export const TIER_LIMIT_FIELDS = {
  perPayment: "per_payment",
  perDay: "per_day",
  maxBalance: "max_balance",
} as const satisfies Record<string, LimitName>;

/** Decimal → minor units; "0" is a real limit here (a tier that may not hold a currency at all). */
function limitMinor(text: string, currency: string, table: CurrencyTable): bigint | string {
  if (/^0+(\.0+)?$/.test(text)) return 0n;
  const r = parseAmount(text, currency, table, new Set(table.keys()));
  return r.ok ? r.minor : r.message;
}

/** Checks and converts the configured tiers; throws an Error naming the bad entry. */
export function parseTiers(config: readonly TierConfig[], table: CurrencyTable): Tier[] {
  const seen = new Set<string>();
  return config.map((t, i) => {
    if (seen.has(t.name)) throw new Error(`kyc.tiers[${i}]: tier name "${t.name}" is used twice`);
    seen.add(t.name);
    const limits = new Map<string, LimitSet>();
    for (const [currency, fields] of Object.entries(t.limits)) {
      if (!table.has(currency)) throw new Error(`kyc.tiers[${i}] (${t.name}): unknown currency ${currency}`);
      const set: LimitSet = {};
      for (const [field, name] of Object.entries(TIER_LIMIT_FIELDS)) {
        const v = fields[field as keyof typeof fields];
        if (v === undefined) continue;
        const minor = limitMinor(v, currency, table);
        if (typeof minor === "string")
          throw new Error(`kyc.tiers[${i}] (${t.name}).limits.${currency}.${field}: ${minor}`);
        set[name] = minor;
      }
      limits.set(currency, set);
    }
    return { name: t.name, grants: [...new Set(t.grants)], limits };
  });
}

/**
 * The highest tier whose grants are all in `verified`; the lowest tier needs none by definition (every user's start).
 */
export function qualifyingTier(tiers: readonly Tier[], verified: ReadonlySet<string>): Tier | null {
  if (tiers.length === 0) return null;
  for (let i = tiers.length - 1; i > 0; i--) if (tiers[i]!.grants.every((g) => verified.has(g))) return tiers[i]!;
  return tiers[0]!;
}

/** Every grant any tier above the lowest asks for: what /app/kyc/start requests from a provider. */
export const grantsAsked = (tiers: readonly Tier[]): string[] =>
  [...new Set(tiers.slice(1).flatMap((t) => t.grants))].sort();

/** The tier's limits in `currency`, with the operator's per-user values on top (an override replaces, per limit). */
export function effectiveLimits(tier: Tier | null, currency: string, override: LimitSet): LimitSet {
  return { ...(tier?.limits.get(currency) ?? {}), ...override };
}
