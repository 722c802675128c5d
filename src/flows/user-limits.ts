// Issue 16: the one check every movement into or out of a user's account makes, inside its own transaction before
// the ledger write: frozen accounts move nothing, and no limit in force may be broken. Throws the §15-style error;
// the caller's transaction then rolls back, so nothing is half-written.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { formatMinor } from "../protocol/money";
import { dayStart, firstViolation, type MovementKind } from "../domain/limits";
import { userAccount } from "../store/ledger";

export function enforceUserMovement(gw: Gateway, userId: string, kind: MovementKind, currency: string, amount: bigint): void {
  if (kind !== "withdrawal" && gw.store.users.frozenAt(userId) !== null)
    throw new ProtocolError("ACCOUNT_FROZEN", "This account is frozen; the operator must unfreeze it first", { userId });
  const limits = gw.store.limits.forUser(userId, currency);
  if (Object.keys(limits).length === 0) return;
  const account = userAccount(userId);
  const v = firstViolation(limits, {
    kind,
    amount,
    balance: gw.store.ledger.balance(account, currency),
    spentToday: limits.per_day === undefined ? 0n : gw.store.limits.spentSince(account, currency, dayStart(gw.clock())),
  });
  if (!v) return;
  const max = formatMinor(v.max, currency, gw.currencies);
  throw new ProtocolError("LIMIT_EXCEEDED", `This would exceed the user's ${v.limit} limit of ${max} ${currency}`, { limit: v.limit, currency, max });
}

/** Frozen users cannot start a payment either (no pay session, no confirm). */
export function assertNotFrozen(gw: Gateway, userId: string): void {
  if (gw.store.users.frozenAt(userId) !== null) throw new ProtocolError("ACCOUNT_FROZEN", "This account is frozen", { userId });
}
