// §12.1 double-entry ledger on PostgreSQL: the SQLite ledger's records and errors (./../ledger.ts), with every
// refusal made by a conditional statement instead of a failed one. A failed statement aborts a Postgres transaction
// (every later statement is refused), while SQLite's callers catch InsufficientFunds or a balance overflow and go on
// in the same transaction; so the floor (`balance >= amount`) and the 64-bit range are WHERE clauses here, and a
// movement whose second half is refused puts its first half back before it throws: a move is all or nothing.
// The two balance rows are written in account-name order, so two movements between the same accounts in opposite
// directions lock them in the same order and cannot deadlock each other.
import type { SQL } from "bun";
import type { Tx } from "../index";
import {
  BALANCE_MAX,
  BALANCE_MIN,
  BalanceOverflow,
  bookBalances,
  creditRow,
  InsufficientFunds,
  mayGoNegative,
  inFlightRowOf,
  type LedgerCheck,
  type Movement,
} from "../ledger";
import { balanceRows, IN_FLIGHT, IN_FLIGHT_ROWS, splitDebit } from "../../domain/ledger-accounts";
import { randomHex } from "../../protocol/hex";
import { num } from "./rows";

type Half = { account: string; delta: bigint };

export function pgLedger(sql: SQL): Tx["ledger"] {
  /** Adds `delta` to a balance, creating the row; false when the result would leave the 64-bit range. */
  const add = async (account: string, currency: string, delta: bigint): Promise<boolean> => {
    const rows = await sql`INSERT INTO accounts (account, currency, balance) VALUES (${account}, ${currency}, ${delta})
      ON CONFLICT (account, currency) DO UPDATE SET balance = accounts.balance + excluded.balance
      WHERE (excluded.balance >= 0 AND accounts.balance <= ${BALANCE_MAX} - excluded.balance)
         OR (excluded.balance < 0 AND accounts.balance >= ${BALANCE_MIN} - excluded.balance)
      RETURNING 1`;
    return rows.length === 1;
  };
  /** The floored debit: false when the account is short (or absent). */
  const debitFloored = async (account: string, currency: string, amount: bigint): Promise<boolean> => {
    const rows = await sql`UPDATE accounts SET balance = balance - ${amount}
      WHERE account = ${account} AND currency = ${currency} AND balance >= ${amount} RETURNING 1`;
    return rows.length === 1;
  };
  /** Whether a floored account holds at least `amount` (read only when a refusal must be named as SQLite would). */
  const covers = async (account: string, currency: string, amount: bigint): Promise<boolean> => {
    const rows = await sql`SELECT 1 FROM accounts
      WHERE account = ${account} AND currency = ${currency} AND balance >= ${amount}`;
    return rows.length === 1;
  };
  /** One half of a movement; the error to throw when it is refused, or null when it was written. */
  const apply = async (h: Half, currency: string): Promise<Error | null> => {
    if (h.delta < 0n && !mayGoNegative(h.account))
      return (await debitFloored(h.account, currency, -h.delta)) ? null : new InsufficientFunds(h.account);
    return (await add(h.account, currency, h.delta)) ? null : new BalanceOverflow(h.account);
  };
  const entry = (id: string, h: Half, m: Movement) =>
    sql`INSERT INTO ledger_entries (movement_id, account, currency, delta, reason, order_id, ref, created_at)
        VALUES (${id}, ${h.account}, ${m.currency}, ${h.delta}, ${m.reason}, ${m.orderId ?? null}, ${m.ref ?? null},
          ${m.now})`;

  const check = async (): Promise<LedgerCheck> => {
    const problems: string[] = [];
    const sums = await sql`SELECT currency, SUM(delta)::text AS s FROM ledger_entries GROUP BY currency`;
    for (const r of sums) if (BigInt(r.s) !== 0n) problems.push(`entries for ${r.currency} sum to ${r.s}`);
    const rows = await sql`SELECT a.account, a.currency, a.balance,
        (SELECT SUM(delta) FROM ledger_entries e WHERE e.account = a.account AND e.currency = a.currency)::text AS d
      FROM accounts a`;
    for (const r of rows) {
      const balance = BigInt(r.balance);
      const derived = r.d === null ? 0n : BigInt(r.d);
      if (derived !== balance) problems.push(`${r.account} ${r.currency}: balance ${balance} but entries ${derived}`);
      if (balance < 0n && !mayGoNegative(r.account)) problems.push(`${r.account} ${r.currency} is negative`);
    }
    return { ok: problems.length === 0, problems };
  };
  const checkBalances = async (): Promise<LedgerCheck> => {
    const problems: string[] = [];
    // SUM of BIGINT is NUMERIC: as text, so a sum beyond 64 bits is reported rather than wrapped.
    const sums = await sql`SELECT currency, SUM(balance)::text AS s FROM accounts GROUP BY currency`;
    for (const r of sums) if (BigInt(r.s) !== 0n) problems.push(`balances for ${r.currency} sum to ${r.s}`);
    const negative = await sql`SELECT account, currency FROM accounts WHERE balance < 0`;
    for (const r of negative) if (!mayGoNegative(r.account)) problems.push(`${r.account} ${r.currency} is negative`);
    return { ok: problems.length === 0, problems };
  };

  /**
   * Writes every half in account-name order (two movements over the same rows lock them in the same order and
   * cannot deadlock each other); a refused half puts back the ones already written (their rows are locked by us;
   * the reverse delta restores a value they held a moment ago) and is returned, so a move is all or nothing.
   */
  const applyAll = async (halves: Half[], currency: string): Promise<Error | null> => {
    const ordered = [...halves].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
    for (let i = 0; i < ordered.length; i++) {
      const refused = await apply(ordered[i]!, currency);
      if (!refused) continue;
      for (const done of ordered.slice(0, i))
        await sql`UPDATE accounts SET balance = balance - ${done.delta}
                  WHERE account = ${done.account} AND currency = ${currency}`;
      return refused;
    }
    return null;
  };
  /** settlement_in_flight's rows, locked, when the movement's own row is short: the debit is split over them. */
  const splitInFlight = async (m: Movement, credited: string): Promise<Half[]> => {
    const rows = await sql`SELECT account AS row, balance FROM accounts
      WHERE currency = ${m.currency} AND account = ANY(${[...IN_FLIGHT_ROWS]}::text[]) ORDER BY account FOR UPDATE`;
    const parts = splitDebit(
      rows.map((r: { row: string; balance: bigint }) => ({ row: r.row, balance: BigInt(r.balance) })),
      m.amount,
    );
    if (!parts) throw new InsufficientFunds(IN_FLIGHT);
    return [...parts.map((p) => ({ account: p.row, delta: -p.amount })), { account: credited, delta: m.amount }];
  };

  return {
    async move(m) {
      if (m.amount <= 0n) throw new Error("movement amount must be positive");
      if (m.from === m.to) throw new Error("movement to the same account");
      const credited = creditRow(m);
      const debited = m.from === IN_FLIGHT ? inFlightRowOf(m) : m.from;
      let halves: Half[] = [
        { account: debited, delta: -m.amount },
        { account: credited, delta: m.amount },
      ];
      let refused = await applyAll(halves, m.currency);
      if (refused instanceof InsufficientFunds && m.from === IN_FLIGHT) {
        halves = await splitInFlight(m, credited);
        refused = await applyAll(halves, m.currency);
      }
      // The credit may have gone first (name order) and overflowed; SQLite debits first: a short payer is its answer.
      if (refused instanceof BalanceOverflow && refused.account === credited && m.from !== IN_FLIGHT)
        if (!mayGoNegative(m.from) && !(await covers(m.from, m.currency, m.amount)))
          refused = new InsufficientFunds(m.from);
      if (refused) throw refused;
      const id = randomHex(12);
      for (const h of halves) await entry(id, h, m);
      return id;
    },
    async balance(account, currency) {
      const [r] = await sql`SELECT SUM(balance)::text AS b FROM accounts
        WHERE account = ANY(${[...balanceRows(account)]}::text[]) AND currency = ${currency}`;
      return r?.b ? BigInt(r.b) : 0n;
    },
    async hasAccount(account, currency) {
      const rows = await sql`SELECT 1 FROM accounts
        WHERE account = ANY(${[...balanceRows(account)]}::text[]) AND currency = ${currency} LIMIT 1`;
      return rows.length === 1;
    },
    async balances(account) {
      const rows =
        account === undefined
          ? await sql`SELECT account, currency, balance FROM accounts ORDER BY account, currency`
          : await sql`SELECT account, currency, balance FROM accounts
                      WHERE account = ANY(${[...balanceRows(account)]}::text[])
                      ORDER BY account, currency`;
      return bookBalances(
        rows.map((r: { account: string; currency: string; balance: bigint }) => ({ ...r, b: BigInt(r.balance) })),
      );
    },
    async entries(from, to) {
      const rows = await sql`SELECT id, movement_id, account, currency, delta, reason, order_id, ref, created_at
        FROM ledger_entries WHERE created_at >= ${from} AND created_at < ${to} ORDER BY id`;
      return rows.map((r: Record<string, unknown>) => ({
        id: Number(r.id),
        movementId: r.movement_id as string,
        account: r.account as string,
        currency: r.currency as string,
        delta: BigInt(r.delta as bigint),
        reason: r.reason as string,
        orderId: num(r.order_id),
        ref: r.ref as string | null,
        createdAt: Number(r.created_at),
      }));
    },
    check,
    checkBalances,
  };
}
