// GET /metrics in the Prometheus text format (0.0.4). Business figures are read from the database at scrape time,
// so they match it exactly and survive restarts; process figures (sockets, verify queue) come from memory.
import type { Gateway } from "../gateway";
import pkg from "../../package.json" with { type: "json" };
import { ORDER_STATUSES } from "../domain/order-lifecycle";

/** Upper bounds (seconds) of the latency histograms; timestamps are whole seconds, so finer bounds mean nothing. */
export const LATENCY_BUCKETS = [0, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

type Labels = Record<string, string | number>;
const esc = (v: string | number) => String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labels = (l: Labels) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

class Exposition {
  private lines: string[] = [];
  metric(name: string, type: "gauge" | "counter" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, value: number, l: Labels = {}): this {
    this.lines.push(`${name}${labels(l)} ${value}`);
    return this;
  }
  /** A histogram from (value, count) pairs. */
  histogram(name: string, help: string, rows: { d: number; n: number }[]): this {
    this.metric(name, "histogram", help);
    let count = 0;
    let sum = 0;
    for (const r of rows) (count += r.n), (sum += r.d * r.n);
    for (const le of LATENCY_BUCKETS) this.sample(`${name}_bucket`, rows.filter((r) => r.d <= le).reduce((a, r) => a + r.n, 0), { le });
    return this.sample(`${name}_bucket`, count, { le: "+Inf" }).sample(`${name}_sum`, sum).sample(`${name}_count`, count);
  }
  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}

const DELIVERY_STATES = ["pending", "delivered", "rejected", "dead"];

export function renderMetrics(gw: Gateway, live: { verifyQueueDepth: () => number }): string {
  const { db } = gw;
  const x = new Exposition();
  x.metric("oc_up", "gauge", "1 while the gateway serves").sample("oc_up", 1);
  x.metric("oc_build_info", "gauge", "version of the running gateway").sample("oc_build_info", 1, { version: pkg.version });

  const orders = new Map(db.query<{ status: string; n: number }, []>("SELECT status, COUNT(*) AS n FROM orders GROUP BY status").all().map((r) => [r.status, r.n]));
  x.metric("oc_orders", "gauge", "orders by current status");
  for (const s of new Set([...ORDER_STATUSES, ...orders.keys()])) x.sample("oc_orders", orders.get(s) ?? 0, { status: s });

  // A settlement job's strategy: the one it settled with, else the candidate it is on.
  const settlements = db
    .query<{ state: string; strategy: string | null; n: number }, []>(
      `SELECT j.state, COALESCE(o.settlement_type, json_extract(j.candidates_json, '$[' || j.path_index || '].type')) AS strategy,
              COUNT(*) AS n
         FROM jobs j JOIN orders o ON o.id = j.order_id GROUP BY 1, 2 ORDER BY 1, 2`,
    )
    .all();
  x.metric("oc_settlements", "gauge", "settlement jobs by outcome (pending, done, failed, in_review) and strategy");
  for (const r of settlements) x.sample("oc_settlements", r.n, { outcome: r.state, strategy: r.strategy ?? "none" });

  const deliveries = new Map(db.query<{ state: string; n: number }, []>("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state").all().map((r) => [r.state, r.n]));
  x.metric("oc_deliveries", "gauge", "proof webhook deliveries by state");
  for (const s of new Set([...DELIVERY_STATES, ...deliveries.keys()])) x.sample("oc_deliveries", deliveries.get(s) ?? 0, { state: s });

  x.histogram(
    "oc_settlement_latency_seconds",
    "confirmation to paid, per paid order",
    db.query<{ d: number; n: number }, []>("SELECT updated_at - confirmed_at AS d, COUNT(*) AS n FROM orders WHERE status = 'paid' AND confirmed_at IS NOT NULL GROUP BY 1").all(),
  );
  x.histogram(
    "oc_confirm_to_webhook_seconds",
    "confirmation to the merchant's accepted webhook, per delivered proof of an order",
    db
      .query<{ d: number; n: number }, []>(
        `SELECT d.updated_at - o.confirmed_at AS d, COUNT(*) AS n FROM deliveries d JOIN orders o ON o.id = d.order_id
          WHERE d.state = 'delivered' AND o.confirmed_at IS NOT NULL GROUP BY 1`,
      )
      .all(),
  );

  x.metric("oc_verify_queue_depth", "gauge", "signature checks waiting for a verification worker").sample("oc_verify_queue_depth", live.verifyQueueDepth());
  x.metric("oc_websockets_open", "gauge", "open, authenticated wallet WebSockets").sample("oc_websockets_open", gw.hub.openSockets());
  return x.toString();
}
