// The merchant as the payment prompt showed it, per order, on PostgreSQL (see ../merchant-snapshot.ts): SQLite's
// INSERT OR REPLACE is an upsert here.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { endpointHost } from "../merchant-snapshot";

export function pgMerchants(sql: SQL): Tx["merchants"] {
  return {
    async remember(orderRow, m) {
      await sql`INSERT INTO order_merchant (order_row, name, host)
        VALUES (${orderRow}, ${m.name ?? null}, ${endpointHost(m.endpoint)})
        ON CONFLICT (order_row) DO UPDATE SET name = excluded.name, host = excluded.host`;
    },
    async get(orderRow) {
      const [r] = await sql`SELECT name, host FROM order_merchant WHERE order_row = ${orderRow}`;
      return r ? { name: r.name, host: r.host } : null;
    },
  };
}
