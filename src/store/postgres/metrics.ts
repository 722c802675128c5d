// The business figures /metrics exposes, on PostgreSQL (the SQLite twin: ../metrics.ts). SQLite's
// json_extract(candidates_json, '$[i].type') is `-> i ->> 'type'` here; groups sort as on SQLite (bytes, NULL first).
import type { SQL } from "bun";
import type { Tx } from "../index";
import { int } from "./values";

const counts = (rows: { k: string; n: unknown }[]) => new Map(rows.map((r) => [r.k, int(r.n)]));
const durations = (rows: { d: unknown; n: unknown }[]) => rows.map((r) => ({ d: int(r.d), n: int(r.n) }));

export function pgMetrics(sql: SQL): Tx["metrics"] {
  return {
    async ordersByStatus() {
      return counts(await sql`SELECT status AS k, COUNT(*) AS n FROM orders GROUP BY status`);
    },
    async settlementsByOutcome() {
      const rows = await sql`SELECT state, strategy, COUNT(*) AS n FROM (
          SELECT j.state,
            COALESCE(o.settlement_type, j.candidates_json::json -> j.path_index::int ->> 'type') AS strategy
          FROM jobs j JOIN orders o ON o.id = j.order_id) s
        GROUP BY state, strategy ORDER BY state COLLATE "C", strategy COLLATE "C" NULLS FIRST`;
      return rows.map((r: Record<string, unknown>) => ({
        state: r.state as string,
        strategy: r.strategy as string | null,
        n: int(r.n),
      }));
    },
    async deliveriesByState() {
      return counts(await sql`SELECT state AS k, COUNT(*) AS n FROM deliveries GROUP BY state`);
    },
    async settlementLatency() {
      return durations(
        await sql`SELECT updated_at - confirmed_at AS d, COUNT(*) AS n FROM orders
        WHERE status = 'paid' AND confirmed_at IS NOT NULL GROUP BY 1 ORDER BY 1`,
      );
    },
    async confirmToWebhook() {
      return durations(
        await sql`SELECT d.updated_at - o.confirmed_at AS d, COUNT(*) AS n
        FROM deliveries d JOIN orders o ON o.id = d.order_id
        WHERE d.state = 'delivered' AND o.confirmed_at IS NOT NULL GROUP BY 1 ORDER BY 1`,
      );
    },
  };
}
