// The web wallet's WebSocket client (web/socket.ts) outside the browser: the backoff schedule of §10.3, and the
// client itself against the real gateway (auth as first message, ready, reconnect after a drop, 4401 stops).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { backoffDelay, PING_INTERVAL_MS, WalletSocket, type ConnState, type ServerMessage } from "../../web/socket";
import { startTestGateway, type TestGateway } from "../helpers/gateway";
import { addUser } from "../helpers/wallet";
import { until } from "./browser";

test("backoff: 1 s doubling to 30 s, each within ±20 % jitter", () => {
  const bases = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  bases.forEach((base, attempt) => {
    expect(backoffDelay(attempt, 0)).toBe(base * 0.8);
    expect(backoffDelay(attempt, 0.5)).toBe(base);
    expect(backoffDelay(attempt, 0.999999)).toBeLessThanOrEqual(base * 1.2);
    expect(backoffDelay(attempt, 0.999999)).toBeGreaterThan(base * 1.19);
  });
  expect(backoffDelay(1000, 0.5)).toBe(30000);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3);
    expect(d).toBeGreaterThanOrEqual(6400);
    expect(d).toBeLessThanOrEqual(9600);
  }
});

let tg: TestGateway;
beforeAll(async () => {
  tg = await startTestGateway({});
});
afterAll(() => tg.close());

test("WalletSocket: authenticates with a first message, reconnects after a drop, stops for good on 4401", async () => {
  const { user, token } = addUser(tg, "sock");
  const seen: ServerMessage[] = [];
  const states: ConnState[] = [];
  let unauthorized = 0;
  const url = tg.url.replace("http", "ws") + "/app/ws";
  expect(PING_INTERVAL_MS).toBe(25_000);
  // Pinging every 60 ms here instead of every 25 s: the keepalive runs on its own once ready.
  const s = new WalletSocket(url, token, { message: (m) => seen.push(m), state: (x) => states.push(x), unauthorized: () => unauthorized++ }, 60);
  s.start();
  await until(() => seen.some((m) => m.type === "ready"), "ready");
  expect(seen[0]).toEqual({ type: "ready", user: { id: user.id } });
  await until(() => seen.filter((m) => m.type === "pong" && typeof m.ts === "number").length >= 2, "two keepalive pongs");
  expect(s.send({ type: "ping", ts: 7 })).toBe(true);
  await until(() => seen.some((m) => m.type === "pong" && m.ts === 7), "pong");

  const hub = tg.gw.hub as unknown as { sockets: Map<string, { close(code?: number): void }[]> };
  const t0 = Date.now();
  for (const w of hub.sockets.get(user.id) ?? []) w.close(1012);
  await until(() => seen.filter((m) => m.type === "ready").length === 2, "second ready", 5000);
  const took = Date.now() - t0;
  expect(took).toBeGreaterThanOrEqual(750);
  expect(took).toBeLessThan(4500); // 1 s ±20 % plus slack for a loaded machine
  expect(states.slice(-3)).toEqual(["offline", "connecting", "online"]);
  s.stop();
  expect(states.at(-1)).toBe("offline");

  const bad = new WalletSocket(url, "f".repeat(64), { message: (m) => seen.push(m), state: (x) => states.push(x), unauthorized: () => unauthorized++ });
  bad.start();
  await until(() => unauthorized === 1, "unauthorized");
  expect(seen.at(-1)).toMatchObject({ type: "error", code: "INVALID_TOKEN" });
  await Bun.sleep(1300);
  expect(unauthorized).toBe(1); // no retry loop with a refused token
});
