// The business figures /metrics exposes, read from the database at scrape time so they match it exactly.
import type { Database } from "bun:sqlite";

/** (seconds, how many) pairs a latency histogram is built from. */
export type Durations = { d: number; n: number }[];
export type SettlementCount = { state: string; strategy: string | null; n: number };

export function metrics(db: Database) {
  const orders = db.query<{ status: string; n: number }, []>(
    "SELECT status, COUNT(*) AS n FROM orders GROUP BY status",
  );
  // A settlement job's strategy: the one it settled with, else the candidate it is on.
  const settlements = db.query<SettlementCount, []>(
    `SELECT j.state,
            COALESCE(o.settlement_type, json_extract(j.candidates_json, '$[' || j.path_index || '].type')) AS strategy,
            COUNT(*) AS n
       FROM jobs j JOIN orders o ON o.id = j.order_id GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const deliveries = db.query<{ state: string; n: number }, []>(
    "SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state",
  );
  const settled = db.query<{ d: number; n: number }, []>(
    `SELECT updated_at - confirmed_at AS d, COUNT(*) AS n FROM orders
      WHERE status = 'paid' AND confirmed_at IS NOT NULL GROUP BY 1`,
  );
  const webhooks = db.query<{ d: number; n: number }, []>(
    `SELECT d.updated_at - o.confirmed_at AS d, COUNT(*) AS n FROM deliveries d JOIN orders o ON o.id = d.order_id
      WHERE d.state = 'delivered' AND o.confirmed_at IS NOT NULL GROUP BY 1`,
  );
  return {
    ordersByStatus: (): Map<string, number> => new Map(orders.all().map((r) => [r.status, r.n])),
    settlementsByOutcome: (): SettlementCount[] => settlements.all(),
    deliveriesByState: (): Map<string, number> => new Map(deliveries.all().map((r) => [r.state, r.n])),
    /** Confirmation to paid, per paid order. */
    settlementLatency: (): Durations => settled.all(),
    /** Confirmation to the merchant's accepted webhook, per delivered proof of an order. */
    confirmToWebhook: (): Durations => webhooks.all(),
  };
}
