// GET /metrics in the Prometheus text format (0.0.4). Business figures are read from the database at scrape time,
// so they match it exactly and survive restarts; process figures (sockets, verify queue) come from memory.
import type { Gateway } from "../gateway";
import pkg from "../../package.json" with { type: "json" };
import { ORDER_STATUSES } from "../domain/order-lifecycle";
import type { Durations } from "../store/metrics";

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
  histogram(name: string, help: string, rows: Durations): this {
    this.metric(name, "histogram", help);
    let count = 0;
    let sum = 0;
    for (const r of rows) {
      count += r.n;
      sum += r.d * r.n;
    }
    for (const le of LATENCY_BUCKETS)
      this.sample(
        `${name}_bucket`,
        rows.filter((r) => r.d <= le).reduce((a, r) => a + r.n, 0),
        { le },
      );
    return this.sample(`${name}_bucket`, count, { le: "+Inf" })
      .sample(`${name}_sum`, sum)
      .sample(`${name}_count`, count);
  }
  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}

const DELIVERY_STATES = ["pending", "delivered", "rejected", "dead"];

export async function renderMetrics(
  gw: Pick<Gateway, "hub" | "store">,
  live: { verifyQueueDepth: () => number },
): Promise<string> {
  // One read: every figure of a scrape comes from the same snapshot.
  const m = await gw.store.read(async (tx) => ({
    ordersByStatus: await tx.metrics.ordersByStatus(),
    settlementsByOutcome: await tx.metrics.settlementsByOutcome(),
    deliveriesByState: await tx.metrics.deliveriesByState(),
    settlementLatency: await tx.metrics.settlementLatency(),
    confirmToWebhook: await tx.metrics.confirmToWebhook(),
  }));
  const x = new Exposition();
  x.metric("oc_up", "gauge", "1 while the gateway serves").sample("oc_up", 1);
  x.metric("oc_build_info", "gauge", "version of the running gateway").sample("oc_build_info", 1, {
    version: pkg.version,
  });

  const orders = m.ordersByStatus;
  x.metric("oc_orders", "gauge", "orders by current status");
  for (const s of new Set([...ORDER_STATUSES, ...orders.keys()]))
    x.sample("oc_orders", orders.get(s) ?? 0, { status: s });

  const settlements = m.settlementsByOutcome;
  x.metric("oc_settlements", "gauge", "settlement jobs by outcome (pending, done, failed, in_review) and strategy");
  for (const r of settlements) x.sample("oc_settlements", r.n, { outcome: r.state, strategy: r.strategy ?? "none" });

  const deliveries = m.deliveriesByState;
  x.metric("oc_deliveries", "gauge", "proof webhook deliveries by state");
  for (const s of new Set([...DELIVERY_STATES, ...deliveries.keys()]))
    x.sample("oc_deliveries", deliveries.get(s) ?? 0, { state: s });

  x.histogram("oc_settlement_latency_seconds", "confirmation to paid, per paid order", m.settlementLatency);
  x.histogram(
    "oc_confirm_to_webhook_seconds",
    "confirmation to the merchant's accepted webhook, per delivered proof of an order",
    m.confirmToWebhook,
  );

  x.metric("oc_verify_queue_depth", "gauge", "signature checks waiting for a verification worker").sample(
    "oc_verify_queue_depth",
    live.verifyQueueDepth(),
  );
  x.metric("oc_websockets_open", "gauge", "open, authenticated wallet WebSockets").sample(
    "oc_websockets_open",
    gw.hub.openSockets(),
  );
  const batches = gw.store.transactionStats?.();
  if (batches) {
    // members / transactions = the mean batch of src/store/sqlite-engine.ts (1 with sqliteBatchTransactions off)
    x.metric("oc_sqlite_transactions_total", "counter", "SQLite transactions committed by the store port");
    for (const kind of ["write", "read"] as const)
      x.sample("oc_sqlite_transactions_total", batches[kind].transactions, { kind });
    x.metric("oc_sqlite_transaction_members_total", "counter", "store transactions (or reads) those carried");
    for (const kind of ["write", "read"] as const)
      x.sample("oc_sqlite_transaction_members_total", batches[kind].members, { kind });
  }
  return x.toString();
}
