// What the operator and the merchant read about deliveries (the outbox's writes live in ./deliveries.ts).
import type { Database } from "bun:sqlite";
import type { DeliveryColumns } from "./deliveries";
import { camelAll, camelOrNull, type Camel } from "./records";

type Listed = DeliveryColumns & { kind?: string; endpoint_id?: string | null; rid: number };
export type DeliveryListed = Camel<Listed>;

export function deliveryQueries(db: Database) {
  const ofOrder = db.query<Listed, [number]>(
    "SELECT rowid AS rid, * FROM deliveries WHERE order_id = ? ORDER BY created_at, id",
  );
  const latest = db.query<{ state: string; attempts: number }, [number]>(
    "SELECT state, attempts FROM deliveries WHERE order_id = ? ORDER BY created_at DESC LIMIT 1",
  );
  const page = db.query<Listed, [string | null, number, number]>(
    "SELECT rowid AS rid, * FROM deliveries WHERE (?1 IS NULL OR state = ?1) AND rowid > ?2 ORDER BY rowid LIMIT ?3",
  );
  return {
    /** An order's deliveries, oldest first. */
    ofOrder: (orderId: number): DeliveryListed[] => camelAll(ofOrder.all(orderId)),
    /** The state of an order's newest delivery (what the merchant's status URL shows). */
    latestOfOrder: (orderId: number): { state: string; attempts: number } | null => camelOrNull(latest.get(orderId)),
    /** In write order after `after` (a row cursor), optionally of one state. */
    page: (state: string | null, after: number, limit: number): DeliveryListed[] =>
      camelAll(page.all(state, after, limit)),
  };
}
