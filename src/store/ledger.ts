// §12.1 double-entry ledger. Every movement is two entries summing to zero, written with the balance updates;
// accounts that must not go negative are debited with a conditional UPDATE. Call inside a transaction.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { isCheckViolation } from "./constraint";

import {
  bookAccount,
  IN_FLIGHT,
  IN_FLIGHT_ROWS,
  inFlightRow,
  inFlightShard,
  mayGoNegative,
  splitDebit,
} from "../domain/ledger-accounts";

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

/** One balance row's share of a movement's debit. */
type Part = { row: string; amount: bigint };

/** Which key picks a movement's settlement_in_flight row (the order, else the reference). */
export const movementKey = (m: Movement): string | number | null => m.orderId ?? m.ref ?? null;

/** The balance row a movement credits: its shard row when it credits settlement_in_flight. */
export const creditRow = (m: Movement): string =>
  m.to === IN_FLIGHT ? inFlightRow(inFlightShard(movementKey(m))) : m.to;

const quoted = (row: string): string => `'${row.replace(/'/g, "''")}'`;

/** Balance rows folded into the books' accounts (shard rows summed), ordered by account, then currency. */
export function bookBalances(rows: readonly { account: string; currency: string; b: string | bigint }[]): Balance[] {
  const byKey = new Map<string, Balance>();
  for (const r of rows) {
    const account = bookAccount(r.account);
    const key = `${account}\u0000${r.currency}`;
    const seen = byKey.get(key);
    if (seen) seen.balance += BigInt(r.b);
    else byKey.set(key, { account, currency: r.currency, balance: BigInt(r.b) });
  }
  return [...byKey.values()].sort((x, y) =>
    x.account === y.account ? (x.currency < y.currency ? -1 : 1) : x.account < y.account ? -1 : 1,
  );
}
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

  const inFlightRows = db.query<{ row: string; balance: bigint }, [string]>(
    `SELECT account AS row, balance FROM accounts WHERE currency = ? AND account IN (${IN_FLIGHT_ROWS.map(quoted)})`,
  );
  inFlightRows.safeIntegers(true);

  /** The floored debit of `account`; for settlement_in_flight, of the movement's shard row, else of several. */
  const debit = (account: string, m: Movement): Part[] => {
    if (account !== IN_FLIGHT) {
      if (debitFloor.run(m.amount, account, m.currency).changes !== 1) throw new InsufficientFunds(account);
      return [{ row: account, amount: m.amount }];
    }
    const preferred = inFlightRow(inFlightShard(movementKey(m)));
    if (debitFloor.run(m.amount, preferred, m.currency).changes === 1) return [{ row: preferred, amount: m.amount }];
    const parts = splitDebit(inFlightRows.all(m.currency), m.amount);
    if (!parts) throw new InsufficientFunds(IN_FLIGHT);
    for (const p of parts) debitFloor.run(p.amount, p.row, m.currency); // each part is within its row's balance
    return parts;
  };
  const sumRows = (rows: string[], currency: string): bigint =>
    rows.reduce((sum, row) => sum + (balance.get(row, currency)?.balance ?? 0n), 0n);
  const rowsOf = (account: string): string[] => (account === IN_FLIGHT ? [...IN_FLIGHT_ROWS] : [account]);

  return {
    /** Throws InsufficientFunds (the caller's transaction rolls back) when a floored account is short. */
    move(m: Movement): string {
      if (m.amount <= 0n) throw new Error("movement amount must be positive");
      if (m.from === m.to) throw new Error("movement to the same account");
      let debited: Part[];
      if (mayGoNegative(m.from)) {
        add.run(m.from, m.currency, -m.amount);
        debited = [{ row: m.from, amount: m.amount }];
      } else debited = debit(m.from, m);
      const credited = creditRow(m);
      add.run(credited, m.currency, m.amount);
      const id = randomHex(12);
      const write = (row: string, delta: bigint) =>
        entry.run(id, row, m.currency, delta, m.reason, m.orderId ?? null, m.ref ?? null, m.now);
      for (const p of debited) write(p.row, -p.amount);
      write(credited, m.amount);
      return id;
    },
    /** An account's balance in the books (settlement_in_flight: the sum of its rows). */
    balance(account: string, currency: string): bigint {
      return sumRows(rowsOf(account), currency);
    },
    /** Whether the books hold `account` in `currency` at all (a zero balance counts). */
    hasAccount: (account: string, currency: string): boolean =>
      rowsOf(account).some((row) => exists.get(row, currency) !== null),
    /** Every account's balances, or one account's, as the books see them; ordered by account, then currency. */
    balances: (account?: string): Balance[] =>
      bookBalances(account === undefined ? balances.all(null) : rowsOf(account).flatMap((row) => balances.all(row))),
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
