// What the payment prompt showed about the merchant (issue 19), kept per order so history names it the same way
// after a restart or a metadata change. Only display data: nothing here is trusted for settlement.
import type { Database } from "bun:sqlite";

export type MerchantSnapshot = { name: string | null; host: string | null };

/** The host of a registered endpoint, or null when it is not a URL (the directory only holds validated ones). */
export function endpointHost(endpoint: string | undefined): string | null {
  if (!endpoint) return null;
  try {
    return new URL(endpoint).host || null;
  } catch {
    return null;
  }
}

export function merchantSnapshots(db: Database) {
  const put = db.query("INSERT OR REPLACE INTO order_merchant (order_row, name, host) VALUES (?, ?, ?)");
  const get = db.query<MerchantSnapshot, [number]>("SELECT name, host FROM order_merchant WHERE order_row = ?");
  return {
    /** Inside the order's insert transaction. */
    remember: (orderRow: number, m: { name?: string; endpoint?: string }): void =>
      void put.run(orderRow, m.name ?? null, endpointHost(m.endpoint)),
    get: (orderRow: number): MerchantSnapshot | null => get.get(orderRow),
  };
}
