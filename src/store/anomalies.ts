// Things the operator must look at (unresolved settlements, unknown references, mismatched proofs), per order.
import type { Database } from "bun:sqlite";

export type Anomaly = { id: number; kind: string; detail: string; createdAt: number; resolvedAt: number | null };

export function anomalies(db: Database) {
  const ofOrder = db.query<
    { id: number; kind: string; detail: string; created_at: number; resolved_at: number | null },
    [number]
  >("SELECT id, kind, detail, created_at, resolved_at FROM anomalies WHERE order_id = ? ORDER BY id");
  return {
    ofOrder: (orderId: number): Anomaly[] =>
      ofOrder.all(orderId).map((a) => ({
        id: a.id,
        kind: a.kind,
        detail: a.detail,
        createdAt: a.created_at,
        resolvedAt: a.resolved_at,
      })),
  };
}
