// Issue 16: per-user limits as data. Pure: given the limits in force and the facts about one movement, which limit
// (if any) it would break. Where the limits come from (per-user settings today, KYC tiers later) and how the facts
// are read is the store's job; enforcement is one call inside the movement's transaction (flows/user-limits.ts).

/** How money moves for a user: `payment` = the user pays (confirm, transfers out); `credit` = the user receives. */
export type MovementKind = "payment" | "credit" | "withdrawal";

export const LIMIT_NAMES = ["per_payment", "per_day", "max_balance"] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Maximum per limit, in minor units of one currency; an absent limit does not apply. */
export type LimitSet = Partial<Record<LimitName, bigint>>;

export type MovementFacts = {
  kind: MovementKind;
  amount: bigint;
  /** The user's balance in this currency before the movement. */
  balance: bigint;
  /** What the user paid today (UTC day), net of failed payments returned, before this movement. */
  spentToday: bigint;
};

type Rule = {
  limit: LimitName;
  appliesTo: readonly MovementKind[];
  exceeded: (max: bigint, m: MovementFacts) => boolean;
};

/** The rules, once. Withdrawals are operator cash-outs: no spending limit applies to them. */
export const LIMIT_RULES: readonly Rule[] = [
  { limit: "per_payment", appliesTo: ["payment"], exceeded: (max, m) => m.amount > max },
  { limit: "per_day", appliesTo: ["payment"], exceeded: (max, m) => m.spentToday + m.amount > max },
  { limit: "max_balance", appliesTo: ["credit"], exceeded: (max, m) => m.balance + m.amount > max },
];

export type Violation = { limit: LimitName; max: bigint };

/** Whether `limit` is set and applies to a movement of `kind` (a fact only such a limit needs is not read). */
export const limitApplies = (limits: LimitSet, limit: LimitName, kind: MovementKind): boolean =>
  limits[limit] !== undefined && LIMIT_RULES.some((r) => r.limit === limit && r.appliesTo.includes(kind));

export function firstViolation(limits: LimitSet, m: MovementFacts): Violation | null {
  for (const r of LIMIT_RULES) {
    const max = limits[r.limit];
    if (max !== undefined && r.appliesTo.includes(m.kind) && r.exceeded(max, m)) return { limit: r.limit, max };
  }
  return null;
}

/** Several sources (a user's own limits, a tier, a default): the strictest value of each limit wins. */
export function strictest(...sets: LimitSet[]): LimitSet {
  const out: LimitSet = {};
  for (const s of sets)
    for (const name of LIMIT_NAMES) {
      const v = s[name];
      if (v !== undefined && (out[name] === undefined || v < out[name]!)) out[name] = v;
    }
  return out;
}

/** The start of the UTC day `now` is in: the window `per_day` counts. */
export const dayStart = (now: number): number => now - (((now % 86400) + 86400) % 86400);

/** Ledger reasons that are a user paying, and the reason a failed payment's money comes back with. */
export const SPENDING_REASONS = ["confirm", "p2p_transfer", "p2p_send"] as const;
export const RETURNED_REASON = "refund";
