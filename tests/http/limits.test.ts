// §16 rate limits (429 + Retry-After), pending-session cap, and CORS only where configured.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app } from "../helpers/wallet";
import { TestPeer } from "../peers/kit";
import { startMerchant } from "../helpers/merchant";

let tg: PortTestGateway;
let peer: TestPeer;
beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: { perIp: 1000, perOcid: 3, perToken: 1000, payPerUser: 1000 }, maxPendingSessions: 2, app: { corsOrigins: ["https://wallet.example"] } });
  peer = await startMerchant(tg, 500);
});
afterAll(async () => {
  await peer.stop();
  await tg.close();
});

test("per-OCID limit: the 4th request in a minute is 429 RATE_LIMITED with Retry-After, signed", async () => {
  const rs = [];
  for (let i = 0; i < 4; i++) rs.push(await peer.call(tg.url, "GET", "/opencharge/capabilities"));
  expect(rs.slice(0, 3).every((r) => r.status === 200)).toBe(true);
  expect(rs[3]!.status).toBe(429);
  expect(rs[3]!.json.error.code).toBe("RATE_LIMITED");
  expect(Number(rs[3]!.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(rs[3]!.responseSignatureValid).toBe(true);
});

test("more than maxPendingSessions pending sessions → 429", async () => {
  const { token } = await seedUser(tg, "busy");
  expect((await app(tg, token, "POST", "/app/pay", {})).status).toBe(200);
  expect((await app(tg, token, "POST", "/app/pay", {})).status).toBe(200);
  const third = await app(tg, token, "POST", "/app/pay", {});
  expect(third.status).toBe(429);
  expect(third.headers.get("retry-after")).not.toBeNull();
});

test("CORS answers configured origins on /app only", async () => {
  const pre = await fetch(`${tg.url}/app/me`, { method: "OPTIONS", headers: { origin: "https://wallet.example" } });
  expect(pre.status).toBe(204);
  expect(pre.headers.get("access-control-allow-origin")).toBe("https://wallet.example");
  const { token } = await seedUser(tg, "cors");
  const me = await fetch(`${tg.url}/app/me`, { headers: { origin: "https://wallet.example", authorization: `Bearer ${token}` } });
  expect(me.headers.get("access-control-allow-origin")).toBe("https://wallet.example");
  const evil = await fetch(`${tg.url}/app/me`, { headers: { origin: "https://evil.example", authorization: `Bearer ${token}` } });
  expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  const proto = await fetch(`${tg.url}/opencharge/metadata.json`, { headers: { origin: "https://wallet.example" } });
  expect(proto.headers.get("access-control-allow-origin")).toBeNull();
});
