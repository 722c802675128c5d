// The store port's repositories on PostgreSQL (issue 18 item 1), so far the ones the store contract suite
// exercises: ledger moves and reads, inbound and admin idempotency claims, top-up insert/read, user creation and
// the pending-QR-session limit. Same signatures and records as the SQLite repositories (bigint for money, numbers
// for ids and times); statements are Postgres's own where SQLite's relied on its single writer or its dialect.
// Everything else in the port is still SQLite-only: see tests/store/postgres-statements.test.ts for the list.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { InsufficientFunds, mayGoNegative, type Movement } from "../ledger";
import { randomHex } from "../../protocol/hex";
import { sha256Hex } from "../../protocol/hash";

/** What the Postgres engine implements of the port today (a subset of every repository's methods). */
export type PostgresTx = {
  ledger: Pick<Tx["ledger"], "move" | "balance" | "balances" | "entries">;
  idempotency: Pick<Tx["idempotency"], "claim" | "answer" | "reply">;
  adminIdempotency: Pick<Tx["adminIdempotency"], "claim">;
  topups: Pick<Tx["topups"], "insert" | "byId">;
  users: Pick<Tx["users"], "create">;
  sessions: Pick<Tx["sessions"], "insertPendingQr" | "pendingCount">;
};

/** A claimed key's status until its transaction answers it (as on SQLite). */
const CLAIMED = 0;

/** BIGINT columns arrive as BigInt (`bigint: true`); ids, times and statuses are numbers in the records. */
const num = (v: bigint | number | null): number | null => (v === null ? null : Number(v));

export function postgresRepositories(sql: SQL): PostgresTx {
  const add = (account: string, currency: string, delta: bigint) =>
    sql`INSERT INTO accounts (account, currency, balance) VALUES (${account}, ${currency}, ${delta})
        ON CONFLICT (account, currency) DO UPDATE SET balance = accounts.balance + excluded.balance`;
  const entry = (id: string, account: string, delta: bigint, m: Movement) =>
    sql`INSERT INTO ledger_entries (movement_id, account, currency, delta, reason, order_id, ref, created_at)
        VALUES (${id}, ${account}, ${m.currency}, ${delta}, ${m.reason}, ${m.orderId ?? null}, ${m.ref ?? null},
          ${m.now})`;
  return {
    ledger: {
      async move(m) {
        if (m.amount <= 0n) throw new Error("movement amount must be positive");
        if (m.from === m.to) throw new Error("movement to the same account");
        if (mayGoNegative(m.from)) await add(m.from, m.currency, -m.amount);
        else {
          // The floor is re-checked on the row's newest version once a concurrent debit's lock is released.
          const debited = await sql`UPDATE accounts SET balance = balance - ${m.amount}
            WHERE account = ${m.from} AND currency = ${m.currency} AND balance >= ${m.amount} RETURNING 1`;
          if (debited.length !== 1) throw new InsufficientFunds(m.from);
        }
        await add(m.to, m.currency, m.amount);
        const id = randomHex(12);
        await entry(id, m.from, -m.amount, m);
        await entry(id, m.to, m.amount, m);
        return id;
      },
      async balance(account, currency) {
        const [r] = await sql`SELECT balance FROM accounts WHERE account = ${account} AND currency = ${currency}`;
        return r ? BigInt(r.balance) : 0n;
      },
      async balances(account) {
        const rows = account
          ? await sql`SELECT account, currency, balance FROM accounts WHERE account = ${account}
                      ORDER BY account, currency`
          : await sql`SELECT account, currency, balance FROM accounts ORDER BY account, currency`;
        return rows.map((r: { account: string; currency: string; balance: bigint }) => ({
          account: r.account,
          currency: r.currency,
          balance: BigInt(r.balance),
        }));
      },
      async entries(from, to) {
        const rows = await sql`SELECT id, movement_id, account, currency, delta, reason, order_id, ref, created_at
          FROM ledger_entries WHERE created_at >= ${from} AND created_at < ${to} ORDER BY id`;
        return rows.map(
          (r: {
            id: bigint;
            movement_id: string;
            account: string;
            currency: string;
            delta: bigint;
            reason: string;
            order_id: bigint | null;
            ref: string | null;
            created_at: bigint;
          }) => ({
            id: Number(r.id),
            movementId: r.movement_id,
            account: r.account,
            currency: r.currency,
            delta: BigInt(r.delta),
            reason: r.reason,
            orderId: num(r.order_id),
            ref: r.ref,
            createdAt: Number(r.created_at),
          }),
        );
      },
    },
    idempotency: {
      async reply(ocid, key) {
        const [r] = await sql`SELECT body_hash, status, response, created_at FROM idempotency
                              WHERE ocid = ${ocid} AND key = ${key}`;
        return r
          ? { bodyHash: r.body_hash, status: Number(r.status), response: r.response, createdAt: Number(r.created_at) }
          : null;
      },
      // A concurrent claimer of the same key waits on the first one's row, then takes the conflict path: only an
      // answer older than `ttl` is taken over, so exactly one live claim wins, as on SQLite.
      async claim(ocid, key, bodyHash, now, ttl) {
        const rows = await sql`INSERT INTO idempotency (ocid, key, body_hash, status, response, created_at)
          VALUES (${ocid}, ${key}, ${bodyHash}, ${CLAIMED}, '', ${now})
          ON CONFLICT (ocid, key) DO UPDATE SET body_hash = excluded.body_hash, status = ${CLAIMED}, response = '',
            created_at = excluded.created_at
          WHERE idempotency.created_at + ${ttl} < ${now}
          RETURNING 1`;
        return rows.length === 1;
      },
      async answer(ocid, key, status, response) {
        await sql`UPDATE idempotency SET status = ${status}, response = ${response}
                  WHERE ocid = ${ocid} AND key = ${key}`;
      },
    },
    adminIdempotency: {
      async claim(actor, key, hash, now) {
        const rows = await sql`INSERT INTO admin_idempotency (actor, key, request_hash, state, created_at)
          VALUES (${actor}, ${key}, ${hash}, 'in_flight', ${now}) ON CONFLICT (actor, key) DO NOTHING RETURNING 1`;
        return rows.length === 1;
      },
    },
    topups: {
      async insert(t) {
        await sql`INSERT INTO topups (id, user_id, via, order_json, amount, amount_minor, currency, status, created_at)
          VALUES (${t.id}, ${t.userId}, ${t.via}, ${t.orderJson}, ${t.amount}, ${t.amountMinor}, ${t.currency},
            'pending', ${t.now})`;
      },
      async byId(id) {
        const [r] = await sql`SELECT * FROM topups WHERE id = ${id}`;
        return r
          ? {
              id: r.id,
              userId: r.user_id,
              via: Number(r.via),
              amount: r.amount,
              amountMinor: BigInt(r.amount_minor),
              currency: r.currency,
              status: r.status,
              checkoutUrl: r.checkout_url,
              txid: r.txid,
              createdAt: Number(r.created_at),
              creditedAt: num(r.credited_at),
            }
          : null;
      },
    },
    users: {
      async create(name, now, ttl) {
        const id = randomHex(10);
        const token = randomHex(32);
        await sql`INSERT INTO app_users (id, name, created_at) VALUES (${id}, ${name}, ${now})`;
        await sql`INSERT INTO app_tokens (token_hash, user_id, created_at, expires_at)
                  VALUES (${sha256Hex(token)}, ${id}, ${now}, ${ttl ? now + ttl : null})`;
        return { user: { id, name, createdAt: now, ocid: null }, token };
      },
    },
    sessions: {
      // SQLite's single writer makes count-then-insert one decision; here concurrent inserts would each count the
      // others' uncommitted rows as absent and pass the limit together. Locking the user's row first serialises
      // one user's session creation, and READ COMMITTED's next statement then counts every committed session.
      async insertPendingQr(s, max) {
        await sql`SELECT 1 FROM app_users WHERE id = ${s.userId} FOR UPDATE`;
        const rows = await sql`INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at)
          SELECT ${s.id}, 'qr', ${s.userId}, 'pending', ${s.createdAt}, ${s.expiresAt}
          WHERE (SELECT COUNT(*) FROM sessions WHERE user_id = ${s.userId} AND kind = 'qr' AND status = 'pending'
                   AND expires_at >= ${s.createdAt}) < ${max}
          RETURNING id`;
        return rows.length === 1;
      },
      async pendingCount(userId, now) {
        const [r] = await sql`SELECT COUNT(*)::int AS n FROM sessions
          WHERE user_id = ${userId} AND kind = 'qr' AND status = 'pending' AND expires_at >= ${now}`;
        return r.n;
      },
    },
  };
}
