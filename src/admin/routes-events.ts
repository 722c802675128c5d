// Issue 16: /admin/event-endpoints* and /admin/events*.
import type { AdminRoute } from "./route";
import { answer, paged, pageParams } from "./route";
import * as S from "./schemas";
import { createEndpoint, disableEndpoint, eventJson, listEndpoints, replayEvent } from "./events";

export const EVENT_ROUTES: AdminRoute[] = [
  {
    method: "POST",
    path: "/event-endpoints",
    scope: "events:write",
    summary: "Add an endpoint for event webhooks (Standard Webhooks signatures); the secret is in the answer only",
    body: S.EndpointBody,
    status: 201,
    response: S.EndpointCreated,
    handle: async (gw, c) =>
      answer({ status: 201, body: await createEndpoint(gw, c.key.name, c.body.url, c.body.eventTypes) }),
  },
  {
    method: "GET",
    path: "/event-endpoints",
    scope: "events:read",
    summary: "Event endpoints",
    response: S.Endpoints,
    handle: (gw) => listEndpoints(gw),
  },
  {
    method: "DELETE",
    path: "/event-endpoints/:id",
    scope: "events:write",
    summary: "Disable an endpoint (pending deliveries to it stop)",
    response: S.EndpointEnvelope,
    handle: (gw, c) => disableEndpoint(gw, c.key.name, c.params.id!),
  },
  {
    method: "GET",
    path: "/events",
    scope: "events:read",
    summary: "Events, newest first",
    query: S.EventsQuery,
    response: S.Page(S.EventItem),
    handle: async (gw, c) => {
      const { limit, cursor } = pageParams(c.query, Number.MAX_SAFE_INTEGER);
      const rows = await gw.store.read((tx) => tx.events.page(c.query.type ?? null, cursor, limit + 1));
      return paged(rows, limit, (e) => e.rid, eventJson);
    },
  },
  {
    method: "POST",
    path: "/events/:id/replay",
    scope: "events:write",
    summary: "Send an event again to every endpoint it went to (same event id)",
    response: S.EventReplay,
    handle: (gw, c) => replayEvent(gw, c.key.name, c.params.id!),
  },
];
