// Issue 15: the event log's outbox. Triggers (migration 15-event-outbox) write a row in the transaction that made
// the change; the serving process takes them, oldest first, to write them to its log.
import type { Database } from "bun:sqlite";

export type OutboxEvent = { id: number; at: number; event: string; data: string };

export function eventOutbox(db: Database) {
  const any = db.query<{ n: number }, []>("SELECT 1 AS n FROM event_outbox LIMIT 1");
  const take = db.query<OutboxEvent, [number]>(
    `DELETE FROM event_outbox WHERE id IN (SELECT id FROM event_outbox ORDER BY id LIMIT ?)
     RETURNING id, at, event, data`,
  );
  return {
    /** Removes and returns up to `limit` committed events, oldest first (a cheap probe first: usually none). */
    take(limit: number): OutboxEvent[] {
      if (!any.get()) return [];
      return take.all(limit).sort((a, b) => a.id - b.id);
    },
  };
}
