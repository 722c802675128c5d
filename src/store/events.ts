// Issue 16: event endpoints and the events recorded for them. The body is serialised once and re-sent byte for byte.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { camelAll, camelOrNull, type Camel } from "./records";

type EndpointColumns = {
  id: string;
  url: string;
  secret: string;
  event_types: string;
  created_at: number;
  disabled_at: number | null;
};
export type EndpointRow = Camel<EndpointColumns>;
type EventColumns = { id: string; type: string; body: string; created_at: number; rid: number };
export type EventRow = Camel<EventColumns>;

export function events(db: Database) {
  const insertEndpoint = db.query(
    "INSERT INTO event_endpoints (id, url, secret, event_types, created_at) VALUES (?, ?, ?, ?, ?)",
  );
  const endpoint = db.query<EndpointColumns, [string]>("SELECT * FROM event_endpoints WHERE id = ?");
  const endpoints = db.query<EndpointColumns, []>("SELECT * FROM event_endpoints ORDER BY created_at, id");
  const active = db.query<EndpointColumns, []>("SELECT * FROM event_endpoints WHERE disabled_at IS NULL");
  const disable = db.query("UPDATE event_endpoints SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL");
  const insertEvent = db.query("INSERT INTO events (id, type, body, created_at) VALUES (?, ?, ?, ?)");
  const insertDelivery = db.query(
    `INSERT INTO deliveries (id, order_id, target_ocid, txid, body, state, next_attempt_at, created_at, updated_at,
       kind, endpoint_id)
     VALUES (?1, ?2, 0, ?3, ?4, 'pending', ?5, ?5, ?5, 'event', ?6)`,
  );
  const page = db.query<EventColumns, [string | null, number, number]>(
    "SELECT rowid AS rid, * FROM events WHERE (?1 IS NULL OR type = ?1) AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
  );
  const byId = db.query<EventColumns, [string]>("SELECT rowid AS rid, * FROM events WHERE id = ?");
  const deliveriesOf = db.query<{ id: string }, [string]>(
    "SELECT id FROM deliveries WHERE kind = 'event' AND txid = ? ORDER BY created_at, id",
  );
  return {
    createEndpoint(url: string, secret: string, types: string[], now: number): string {
      const id = "we_" + randomHex(10);
      insertEndpoint.run(id, url, secret, types.join(","), now);
      return id;
    },
    endpoint: (id: string) => camelOrNull(endpoint.get(id)),
    endpoints: () => camelAll(endpoints.all()),
    activeEndpoints: () => camelAll(active.all()),
    disable: (id: string, now: number) => disable.run(id, now).changes === 1,
    /** Call inside the transaction of the change the event reports. */
    record(type: string, data: unknown, orderId: number | null, targets: string[], now: number): string {
      const id = "evt_" + randomHex(12);
      const body = JSON.stringify({ id, type, timestamp: new Date(now * 1000).toISOString(), data });
      insertEvent.run(id, type, body, now);
      for (const endpointId of targets) insertDelivery.run("dlv_" + randomHex(12), orderId, id, body, now, endpointId);
      return id;
    },
    page: (type: string | null, before: number, limit: number) => camelAll(page.all(type, before, limit)),
    byId: (id: string) => camelOrNull(byId.get(id)),
    deliveriesOf: (eventId: string) => deliveriesOf.all(eventId).map((r) => r.id),
  };
}
