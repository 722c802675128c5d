// Issue 16: the operator's event endpoints (URL, secret, event types) and the events recorded for them.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { EVENT_TYPES, newSecret } from "../domain/events";
import type { EndpointRow, EventRow } from "../store/events";
import { deliveryItem } from "./orders";

const endpointJson = (e: EndpointRow) => ({
  id: e.id,
  url: e.url,
  eventTypes: e.eventTypes.split(","),
  createdAt: e.createdAt,
  disabled: e.disabledAt !== null,
});
export const eventJson = (e: EventRow) => ({
  ...(JSON.parse(e.body) as { id: string; type: string; timestamp: string; data: unknown }),
  createdAt: e.createdAt,
});

export async function createEndpoint(
  gw: Pick<Gateway, "clock" | "store">,
  actor: string,
  url: string,
  types: string[],
) {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ProtocolError("INVALID_REQUEST", "url must be an absolute http(s) URL", { fields: ["url"] });
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    throw new ProtocolError("INVALID_REQUEST", "url must be http(s)", { fields: ["url"] });
  if (u.username || u.password)
    throw new ProtocolError("INVALID_REQUEST", "url must not carry credentials", { fields: ["url"] });
  const unknown = types.filter((t) => t !== "*" && !(EVENT_TYPES as readonly string[]).includes(t));
  if (types.length === 0 || unknown.length > 0)
    throw new ProtocolError("INVALID_REQUEST", `eventTypes: one or more of ${EVENT_TYPES.join(", ")} (or "*")`, {
      fields: ["eventTypes"],
      unknown,
    });
  const secret = newSecret();
  const now = gw.clock();
  const endpoint = await gw.store.transaction(async (tx) => {
    const id = await tx.events.createEndpoint(u.href, secret, [...new Set(types)], now);
    const audited = { endpointId: id, url: u.href, eventTypes: types, secret };
    await tx.audit.append(actor, "events.create_endpoint", audited, now);
    return (await tx.events.endpoint(id))!;
  });
  return { endpoint: endpointJson(endpoint), secret };
}

export const listEndpoints = async (gw: Pick<Gateway, "store">) => ({
  items: (await gw.store.read((tx) => tx.events.endpoints())).map(endpointJson),
});

export async function disableEndpoint(gw: Pick<Gateway, "clock" | "store">, actor: string, id: string) {
  const now = gw.clock();
  const endpoint = await gw.store.transaction(async (tx) => {
    if (!(await tx.events.endpoint(id))) throw new ProtocolError("NOT_FOUND", "No such endpoint", { endpointId: id });
    const changed = await tx.events.disable(id, now);
    await tx.audit.append(actor, "events.disable_endpoint", { endpointId: id, changed }, now);
    return (await tx.events.endpoint(id))!;
  });
  return { endpoint: endpointJson(endpoint) };
}

/** Every delivery of the event pending again (same event id, so receivers deduplicate on webhook-id). */
export async function replayEvent(gw: Pick<Gateway, "clock" | "events" | "store">, actor: string, id: string) {
  const now = gw.clock();
  const { event, deliveries } = await gw.store.transaction(async (tx) => {
    const event = await tx.events.byId(id);
    if (!event) throw new ProtocolError("NOT_FOUND", "No such event", { eventId: id });
    const ids = await tx.events.deliveriesOf(id);
    for (const d of ids) await tx.deliveries.replay(d, now);
    await tx.audit.append(actor, "events.replay", { eventId: id, deliveries: ids.length }, now);
    const deliveries = [];
    for (const d of ids) deliveries.push((await tx.deliveries.byId(d))!);
    return { event, deliveries };
  });
  gw.events.deliveryEnqueued();
  return { event: eventJson(event), deliveries: deliveries.map(deliveryItem) };
}
