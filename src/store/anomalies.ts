// What the operator must look at (an unresolved settlement, a reused proof, a refused credit, a mismatched proof):
// one row each, per order where there is one, resolved when the operator settles the order by hand.
import type { Database } from "bun:sqlite";

export type Anomaly = { id: number; kind: string; detail: string; createdAt: number; resolvedAt: number | null };

export function anomalies(db: Database) {
  const ofOrder = db.query<
    { id: number; kind: string; detail: string; created_at: number; resolved_at: number | null },
    [number]
  >("SELECT id, kind, detail, created_at, resolved_at FROM anomalies WHERE order_id = ? ORDER BY id");
  const insert = db.query("INSERT INTO anomalies (kind, order_id, job_id, detail, created_at) VALUES (?, ?, ?, ?, ?)");
  const resolve = db.query("UPDATE anomalies SET resolved_at = ?2 WHERE order_id = ?1 AND resolved_at IS NULL");
  return {
    ofOrder: (orderId: number): Anomaly[] =>
      ofOrder.all(orderId).map((a) => ({
        id: a.id,
        kind: a.kind,
        detail: a.detail,
        createdAt: a.created_at,
        resolvedAt: a.resolved_at,
      })),
    record: (kind: string, orderId: number | null, jobId: string | null, detail: string, now: number) => {
      insert.run(kind, orderId, jobId, detail, now);
    },
    /** Every open anomaly of the order is resolved (the operator settled it). */
    resolveForOrder: (orderId: number, now: number) => resolve.run(orderId, now).changes,
  };
}
export type Anomalies = ReturnType<typeof anomalies>;
