// §12.1 double-entry ledger. Every movement is two entries summing to zero, written with the balance updates;
// accounts that must not go negative are debited with a conditional UPDATE. Call inside a transaction.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { isCheckViolation } from "./constraint";

import {
  balanceRows,
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

/** The settlement_in_flight row a movement's key picks (where its credit lands and its debit looks first). */
export const inFlightRowOf = (m: Movement): string => inFlightRow(inFlightShard(movementKey(m)));

/** The balance row a movement credits: its shard row when it credits settlement_in_flight. */
export const creditRow = (m: Movement): string => (m.to === IN_FLIGHT ? inFlightRowOf(m) : m.to);

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
    const preferred = inFlightRowOf(m);
    if (debitFloor.run(m.amount, preferred, m.currency).changes === 1) return [{ row: preferred, amount: m.amount }];
    const parts = splitDebit(inFlightRows.all(m.currency), m.amount);
    if (!parts) throw new InsufficientFunds(IN_FLIGHT);
    for (const p of parts) debitFloor.run(p.amount, p.row, m.currency); // each part is within its row's balance
    return parts;
  };
  const sumRows = (rows: readonly string[], currency: string): bigint =>
    rows.reduce((sum, row) => sum + (balance.get(row, currency)?.balance ?? 0n), 0n);

  return {
    /**
     * Throws InsufficientFunds when a floored account is short, or a balance overflow (isBalanceOverflow) when a
     * balance would leave the 64-bit range. All or nothing: a refused movement leaves both balances as they were,
     * so a caller that catches the refusal may go on in the same transaction (the port has no savepoints).
     */
    move(m: Movement): string {
      if (m.amount <= 0n) throw new Error("movement amount must be positive");
      if (m.from === m.to) throw new Error("movement to the same account");
      let debited: Part[];
      if (mayGoNegative(m.from)) {
        add.run(m.from, m.currency, -m.amount);
        debited = [{ row: m.from, amount: m.amount }];
      } else debited = debit(m.from, m);
      const credited = creditRow(m);
      try {
        add.run(credited, m.currency, m.amount);
      } catch (e) {
        // SQLite undid only the failed statement: put the debit back (the values the rows held a moment ago).
        for (const p of debited) add.run(p.row, m.currency, p.amount);
        throw e;
      }
      const id = randomHex(12);
      const write = (row: string, delta: bigint) =>
        entry.run(id, row, m.currency, delta, m.reason, m.orderId ?? null, m.ref ?? null, m.now);
      for (const p of debited) write(p.row, -p.amount);
      write(credited, m.amount);
      return id;
    },
    /** An account's balance in the books (settlement_in_flight: the sum of its rows). */
    balance(account: string, currency: string): bigint {
      return sumRows(balanceRows(account), currency);
    },
    /** Whether the books hold `account` in `currency` at all (a zero balance counts). */
    hasAccount: (account: string, currency: string): boolean =>
      balanceRows(account).some((row) => exists.get(row, currency) !== null),
    /** Every account's balances, or one account's, as the books see them; ordered by account, then currency. */
    balances: (account?: string): Balance[] =>
      bookBalances(
        account === undefined ? balances.all(null) : balanceRows(account).flatMap((row) => balances.all(row)),
      ),
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
 * Per-currency sums in BigInt. SQLite's SUM() stops with "integer overflow" once a running total leaves 64 bits,
 * which books holding balances near the limit reach although their true sum is zero (MAX on one account, -MAX on
 * its external counterpart), so the sums across accounts are taken here.
 */
function sumsByCurrency(rows: readonly { currency: string; s: bigint }[]): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const r of rows) sums.set(r.currency, (sums.get(r.currency) ?? 0n) + r.s);
  return sums;
}

/**
 * The start-up check, O(accounts) rather than O(entries): balances sum to zero per currency and no floored account
 * is negative. Balances change only with their entries (one transaction), so this catches a broken books at once;
 * the full entry-level reconciliation (`checkLedger`) is `oc ledger balances` and runs in the tests.
 */
export function checkBalances(db: Database): LedgerCheck {
  const problems: string[] = [];
  const rows = db.query<{ currency: string; s: bigint }, []>("SELECT currency, balance AS s FROM accounts");
  rows.safeIntegers(true);
  for (const [currency, s] of sumsByCurrency(rows.all()))
    if (s !== 0n) problems.push(`balances for ${currency} sum to ${s}`);
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
  // Per account, entries sum to a balance (in range); across accounts only BigInt holds the sum (see sumsByCurrency).
  const perAccount = db.query<{ currency: string; s: bigint }, []>(
    "SELECT currency, SUM(delta) AS s FROM ledger_entries GROUP BY currency, account",
  );
  perAccount.safeIntegers(true);
  for (const [currency, s] of sumsByCurrency(perAccount.all()))
    if (s !== 0n) problems.push(`entries for ${currency} sum to ${s}`);
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
