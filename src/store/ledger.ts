// §12.1 double-entry ledger. Every movement is two entries summing to zero, written with the balance updates;
// accounts that must not go negative are debited with a conditional UPDATE. Call inside a transaction.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { isCheckViolation } from "./constraint";

import { mayGoNegative } from "../domain/ledger-accounts";

// The account names and their floors are domain data (§12.1); re-exported for the callers that book movements.
export {
  externalAccount,
  FUNDING,
  IN_FLIGHT,
  mayGoNegative,
  peerAccount,
  userAccount,
} from "../domain/ledger-accounts";

export type Movement = {
  from: string;
  to: string;
  currency: string;
  amount: bigint;
  reason: string;
  orderId?: number | null;
  ref?: string | null;
  now: number;
};

/**
 * A balance would leave the 64-bit integer range: on SQLite the CHECK on accounts.balance refused the write; the
 * PostgreSQL ledger refuses it with a conditional statement and throws BalanceOverflow (its transaction stays usable).
 */
export const isBalanceOverflow = (e: unknown): boolean =>
  e instanceof BalanceOverflow || isCheckViolation(e, "balance");

/** The 64-bit range every balance lives in (SQLite's INTEGER, PostgreSQL's BIGINT). */
export const BALANCE_MAX = 2n ** 63n - 1n;
export const BALANCE_MIN = -(2n ** 63n);

export class BalanceOverflow extends Error {
  constructor(readonly account: string) {
    super(`balance of ${account} would leave the 64-bit range`);
    this.name = "BalanceOverflow";
  }
}

export type Balance = { account: string; currency: string; balance: bigint };
export type LedgerEntry = {
  id: number;
  movementId: string;
  account: string;
  currency: string;
  delta: bigint;
  reason: string;
  orderId: number | null;
  ref: string | null;
  createdAt: number;
};
export type LedgerCheck = { ok: boolean; problems: string[] };

export class InsufficientFunds extends Error {
  constructor(readonly account: string) {
    super(`insufficient funds in ${account}`);
  }
}

export function ledger(db: Database) {
  const debitFloor = db.query(
    "UPDATE accounts SET balance = balance - ?1 WHERE account = ?2 AND currency = ?3 AND balance >= ?1",
  );
  const add = db.query(
    `INSERT INTO accounts (account, currency, balance) VALUES (?1, ?2, ?3)
     ON CONFLICT (account, currency) DO UPDATE SET balance = balance + excluded.balance`,
  );
  const entry = db.query(
    `INSERT INTO ledger_entries (movement_id, account, currency, delta, reason, order_id, ref, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const balance = db.query<{ balance: bigint }, [string, string]>(
    "SELECT balance FROM accounts WHERE account = ? AND currency = ?",
  );
  balance.safeIntegers(true);
  const exists = db.query<{ n: number }, [string, string]>(
    "SELECT 1 AS n FROM accounts WHERE account = ? AND currency = ?",
  );
  const balances = db.query<{ account: string; currency: string; b: string }, [string | null]>(
    `SELECT account, currency, CAST(balance AS TEXT) AS b FROM accounts
     WHERE ?1 IS NULL OR account = ?1 ORDER BY account, currency`,
  );
  const entries = db.query<
    {
      id: number;
      movement_id: string;
      account: string;
      currency: string;
      d: string;
      reason: string;
      order_id: number | null;
      ref: string | null;
      created_at: number;
    },
    [number, number]
  >(
    `SELECT id, movement_id, account, currency, CAST(delta AS TEXT) AS d, reason, order_id, ref, created_at
     FROM ledger_entries WHERE created_at >= ? AND created_at < ? ORDER BY id`,
  );

  return {
    /** Throws InsufficientFunds (the caller's transaction rolls back) when a floored account is short. */
    move(m: Movement): string {
      if (m.amount <= 0n) throw new Error("movement amount must be positive");
      if (m.from === m.to) throw new Error("movement to the same account");
      if (mayGoNegative(m.from)) add.run(m.from, m.currency, -m.amount);
      else if (debitFloor.run(m.amount, m.from, m.currency).changes !== 1) throw new InsufficientFunds(m.from);
      add.run(m.to, m.currency, m.amount);
      const id = randomHex(12);
      entry.run(id, m.from, m.currency, -m.amount, m.reason, m.orderId ?? null, m.ref ?? null, m.now);
      entry.run(id, m.to, m.currency, m.amount, m.reason, m.orderId ?? null, m.ref ?? null, m.now);
      return id;
    },
    balance(account: string, currency: string): bigint {
      return balance.get(account, currency)?.balance ?? 0n;
    },
    /** Whether the books hold `account` in `currency` at all (a zero balance counts). */
    hasAccount: (account: string, currency: string): boolean => exists.get(account, currency) !== null,
    /** Every account's balances, or one account's; ordered by account, then currency. */
    balances: (account?: string): Balance[] =>
      balances.all(account ?? null).map((r) => ({ account: r.account, currency: r.currency, balance: BigInt(r.b) })),
    /** Entries created in [from, to), in the order they were written. */
    entries: (from: number, to: number): LedgerEntry[] =>
      entries.all(from, to).map((r) => ({
        id: r.id,
        movementId: r.movement_id,
        account: r.account,
        currency: r.currency,
        delta: BigInt(r.d),
        reason: r.reason,
        orderId: r.order_id,
        ref: r.ref,
        createdAt: r.created_at,
      })),
    /** The full entry-level reconciliation (`checkLedger`). */
    check: (): LedgerCheck => checkLedger(db),
    /** The O(accounts) start-up check (`checkBalances`). */
    checkBalances: (): LedgerCheck => checkBalances(db),
  };
}
export type Ledger = ReturnType<typeof ledger>;

/**
 * The start-up check, O(accounts) rather than O(entries): balances sum to zero per currency and no floored account
 * is negative. Balances change only with their entries (one transaction), so this catches a broken books at once;
 * the full entry-level reconciliation (`checkLedger`) is `oc ledger balances` and runs in the tests.
 */
export function checkBalances(db: Database): LedgerCheck {
  const problems: string[] = [];
  const sums = db.query<{ currency: string; s: bigint }, []>(
    "SELECT currency, SUM(balance) AS s FROM accounts GROUP BY currency",
  );
  sums.safeIntegers(true);
  for (const r of sums.all()) if (r.s !== 0n) problems.push(`balances for ${r.currency} sum to ${r.s}`);
  const negative = db.query<{ account: string; currency: string }, []>(
    "SELECT account, currency FROM accounts WHERE balance < 0",
  );
  for (const r of negative.all())
    if (!mayGoNegative(r.account)) problems.push(`${r.account} ${r.currency} is negative`);
  return { ok: problems.length === 0, problems };
}

/** Invariant checks (CLI and tests): entries sum to zero per currency; balances equal their entries. */
export function checkLedger(db: Database): LedgerCheck {
  const problems: string[] = [];
  const sums = db.query<{ currency: string; s: bigint }, []>(
    "SELECT currency, SUM(delta) AS s FROM ledger_entries GROUP BY currency",
  );
  sums.safeIntegers(true);
  for (const r of sums.all()) if (r.s !== 0n) problems.push(`entries for ${r.currency} sum to ${r.s}`);
  const mismatch = db.query<{ account: string; currency: string; balance: bigint; derived: bigint | null }, []>(
    `SELECT a.account, a.currency, a.balance,
       (SELECT SUM(delta) FROM ledger_entries e WHERE e.account = a.account AND e.currency = a.currency) AS derived
     FROM accounts a`,
  );
  mismatch.safeIntegers(true);
  for (const r of mismatch.all()) {
    if ((r.derived ?? 0n) !== r.balance)
      problems.push(`${r.account} ${r.currency}: balance ${r.balance} but entries ${r.derived ?? 0n}`);
    if (r.balance < 0n && !mayGoNegative(r.account)) problems.push(`${r.account} ${r.currency} is negative`);
  }
  return { ok: problems.length === 0, problems };
}
