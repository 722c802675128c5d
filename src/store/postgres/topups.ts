// Issue 17 top-ups on PostgreSQL (see ../topups.ts). A top-up is credited once: one conditional UPDATE
// (`status = 'pending'`), which a concurrent crediting node re-checks on the committed row and loses.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { Topup } from "../topups";
import { num, type PgRow } from "./rows";

const toTopup = (rows: PgRow[]): Topup | null => {
  const r = rows[0];
  return r
    ? {
        id: r.id as string,
        userId: r.user_id as string,
        via: Number(r.via),
        amount: r.amount as string,
        amountMinor: BigInt(r.amount_minor as bigint),
        currency: r.currency as string,
        status: r.status as Topup["status"],
        checkoutUrl: r.checkout_url as string | null,
        txid: r.txid as string | null,
        createdAt: Number(r.created_at),
        creditedAt: num(r.credited_at),
      }
    : null;
};

export function pgTopups(sql: SQL): Tx["topups"] {
  return {
    async insert(t) {
      await sql`INSERT INTO topups (id, user_id, via, order_json, amount, amount_minor, currency, status, created_at)
        VALUES (${t.id}, ${t.userId}, ${t.via}, ${t.orderJson}, ${t.amount}, ${t.amountMinor}, ${t.currency},
          'pending', ${t.now})`;
    },
    byId: async (id) => toTopup(await sql`SELECT * FROM topups WHERE id = ${id}`),
    ofUser: async (id, userId) => toTopup(await sql`SELECT * FROM topups WHERE id = ${id} AND user_id = ${userId}`),
    async dropPending(id) {
      await sql`DELETE FROM topups WHERE id = ${id} AND status = 'pending'`;
    },
    async setCheckoutUrl(id, url) {
      await sql`UPDATE topups SET checkout_url = ${url} WHERE id = ${id}`;
    },
    async markCredited(id, txid, now) {
      const r = await sql`UPDATE topups SET status = 'credited', txid = ${txid}, credited_at = ${now}
        WHERE id = ${id} AND status = 'pending'`;
      return r.count === 1;
    },
  };
}
