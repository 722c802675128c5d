// Issue 16 event endpoints and events on PostgreSQL (the SQLite twin: ../events.ts). `rid`, the admin API's page
// cursor, is SQLite's rowid there and the events table's `rowid` identity column here: write order on both.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { EndpointRow, EventRow } from "../events";
import { randomHex } from "../../protocol/hex";
import { pgRecordOrNull, pgRecords } from "./rows";

export function pgEvents(sql: SQL): Tx["events"] {
  const endpointColumns = sql`id, url, secret, event_types, created_at, disabled_at`;
  const eventColumns = sql`rowid AS rid, id, type, body, created_at`;
  return {
    async createEndpoint(url, secret, types, now) {
      const id = "we_" + randomHex(10);
      await sql`INSERT INTO event_endpoints (id, url, secret, event_types, created_at)
        VALUES (${id}, ${url}, ${secret}, ${types.join(",")}, ${now})`;
      return id;
    },
    endpoint: async (id) =>
      pgRecordOrNull<EndpointRow>(await sql`SELECT ${endpointColumns} FROM event_endpoints WHERE id = ${id}`),
    async endpoints() {
      const rows = await sql`SELECT ${endpointColumns} FROM event_endpoints ORDER BY created_at, id COLLATE "C"`;
      return pgRecords<EndpointRow>(rows);
    },
    async activeEndpoints() {
      const rows = await sql`SELECT ${endpointColumns} FROM event_endpoints WHERE disabled_at IS NULL
        ORDER BY created_at, id COLLATE "C"`;
      return pgRecords<EndpointRow>(rows);
    },
    async disable(id, now) {
      const rows = await sql`UPDATE event_endpoints SET disabled_at = ${now} WHERE id = ${id} AND disabled_at IS NULL
        RETURNING 1`;
      return rows.length === 1;
    },
    async record(type, data, orderId, targets, now) {
      const id = "evt_" + randomHex(12);
      const body = JSON.stringify({ id, type, timestamp: new Date(now * 1000).toISOString(), data });
      await sql`INSERT INTO events (id, type, body, created_at) VALUES (${id}, ${type}, ${body}, ${now})`;
      for (const endpointId of targets)
        await sql`INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at,
            updated_at, kind, endpoint_id)
          VALUES (${"dlv_" + randomHex(12)}, ${orderId}, 0, ${id}, ${body}, 'pending', ${now}, ${now}, ${now}, 'event',
            ${endpointId})`;
      return id;
    },
    async page(type, before, limit) {
      const rows = await sql`SELECT ${eventColumns} FROM events
        WHERE (${type}::text IS NULL OR type = ${type}) AND rowid < ${before} ORDER BY rowid DESC LIMIT ${limit}`;
      return pgRecords<EventRow>(rows);
    },
    byId: async (id) => pgRecordOrNull<EventRow>(await sql`SELECT ${eventColumns} FROM events WHERE id = ${id}`),
    async deliveriesOf(eventId) {
      const rows = await sql`SELECT id FROM deliveries WHERE kind = 'event' AND txid = ${eventId}
        ORDER BY created_at, id COLLATE "C"`;
      return rows.map((r: { id: string }) => r.id);
    },
  };
}
