// What the operator must look at, on PostgreSQL (see ../anomalies.ts).
import type { SQL } from "bun";
import type { Tx } from "../index";
import { num } from "./rows";

export function pgAnomalies(sql: SQL): Tx["anomalies"] {
  return {
    ofOrder: async (orderId) =>
      (
        await sql`SELECT id, kind, detail, created_at, resolved_at FROM anomalies WHERE order_id = ${orderId}
                  ORDER BY id`
      ).map((a: Record<string, unknown>) => ({
        id: Number(a.id),
        kind: a.kind as string,
        detail: a.detail as string,
        createdAt: Number(a.created_at),
        resolvedAt: num(a.resolved_at),
      })),
    async record(kind, orderId, jobId, detail, now) {
      await sql`INSERT INTO anomalies (kind, order_id, job_id, detail, created_at)
                VALUES (${kind}, ${orderId}, ${jobId}, ${detail}, ${now})`;
    },
    async resolveForOrder(orderId, now) {
      const r =
        await sql`UPDATE anomalies SET resolved_at = ${now} WHERE order_id = ${orderId} AND resolved_at IS NULL`;
      return r.count;
    },
  };
}
