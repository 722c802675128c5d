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
  InsufficientFunds,
  mayGoNegative,
  type LedgerCheck,
  type Movement,
} from "../ledger";
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

  return {
    async move(m) {
      if (m.amount <= 0n) throw new Error("movement amount must be positive");
      if (m.from === m.to) throw new Error("movement to the same account");
      const halves: Half[] = [
        { account: m.from, delta: -m.amount },
        { account: m.to, delta: m.amount },
      ].sort((a, b) => (a.account < b.account ? -1 : 1));
      const refusedFirst = await apply(halves[0]!, m.currency);
      if (refusedFirst) throw refusedFirst;
      const refusedSecond = await apply(halves[1]!, m.currency);
      if (refusedSecond) {
        // Undo the first half (its row is locked by us; the reverse delta restores a value it held a moment ago).
        await sql`UPDATE accounts SET balance = balance - ${halves[0]!.delta}
                  WHERE account = ${halves[0]!.account} AND currency = ${m.currency}`;
        throw refusedSecond;
      }
      const id = randomHex(12);
      await entry(id, { account: m.from, delta: -m.amount }, m);
      await entry(id, { account: m.to, delta: m.amount }, m);
      return id;
    },
    async balance(account, currency) {
      const [r] = await sql`SELECT balance FROM accounts WHERE account = ${account} AND currency = ${currency}`;
      return r ? BigInt(r.balance) : 0n;
    },
    async hasAccount(account, currency) {
      const rows = await sql`SELECT 1 FROM accounts WHERE account = ${account} AND currency = ${currency}`;
      return rows.length === 1;
    },
    async balances(account) {
      const rows =
        account === undefined
          ? await sql`SELECT account, currency, balance FROM accounts ORDER BY account, currency`
          : await sql`SELECT account, currency, balance FROM accounts WHERE account = ${account}
                      ORDER BY account, currency`;
      return rows.map((r: { account: string; currency: string; balance: bigint }) => ({
        account: r.account,
        currency: r.currency,
        balance: BigInt(r.balance),
      }));
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
