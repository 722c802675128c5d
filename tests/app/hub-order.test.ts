// Pushes to one user leave in the order they were made, even when the token re-check before each (a store read,
// on PostgreSQL a pool connection each) finishes in the other order: a `paid` must never arrive before its
// `confirmed`. The hub is the real one; the socket is the smallest object it talks to (a list of what was sent).
import { expect, test } from "bun:test";
import { Hub, type HubSocket, type ServerMessage } from "../../src/app/hub";

test("two pushes to one user arrive in order although the first one's token re-check answers last", async () => {
  let checks = 0;
  // The first re-check is slow, the second fast: without ordering the second push would be published first.
  const hub = new Hub(async (hashes) => {
    const slow = checks++ === 0;
    await Bun.sleep(slow ? 60 : 0);
    return new Set(hashes);
  });
  const published: string[] = [];
  hub.attach((_topic, data) => published.push(JSON.parse(data).status));
  const socket: HubSocket = { id: "s1", send: () => 0, close: () => {}, subscribe: () => {}, unsubscribe: () => {} };
  hub.add("u1", socket, "h1");
  const update = (status: "confirmed" | "paid"): ServerMessage => ({ type: "payment_update", sessionId: "a".repeat(32), status });
  hub.deliver("u1", [update("confirmed")]);
  hub.deliver("u1", [update("paid")]);
  const end = performance.now() + 3000;
  while (published.length < 2 && performance.now() < end) await Bun.sleep(5);
  expect(published).toEqual(["confirmed", "paid"]);
  expect(checks).toBe(2); // each push re-checked the token itself
});
