// Issue 15 event log outbox on PostgreSQL (the SQLite twin: ../event-outbox.ts). The schema's triggers write the
// rows in the transaction of the change. Several nodes may take at once: FOR UPDATE SKIP LOCKED gives each taker
// rows no other taker holds, so an event is taken exactly once and takers never wait on each other. Order: each
// batch is in id order; ids are drawn at insert, not at commit, so a transaction that commits late can bring a
// smaller id in a later batch (SQLite's single writer commits ids in order).
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { OutboxEvent } from "../event-outbox";
import { int } from "./values";

export function pgEventOutbox(sql: SQL): Tx["eventOutbox"] {
  return {
    async take(limit) {
      const rows = await sql`WITH taken AS (
          SELECT id FROM event_outbox ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        DELETE FROM event_outbox e USING taken WHERE e.id = taken.id
        RETURNING e.id, e.at, e.event, e.data`;
      return rows
        .map(
          (r: Record<string, unknown>): OutboxEvent => ({
            id: int(r.id),
            at: int(r.at),
            event: r.event as string,
            data: r.data as string,
          }),
        )
        .sort((a: OutboxEvent, b: OutboxEvent) => a.id - b.id);
    },
  };
}
