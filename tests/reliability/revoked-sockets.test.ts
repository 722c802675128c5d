// Issue 23 item 5 / issue 15 item 8: a revoked or rotated token's open WebSocket is closed with 4401 and receives
// nothing after — whether the revocation happened in this process, in the CLI (another process), or is only
// noticed when a push or a message arrives. The token is re-checked on every push and every message.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway as TestGateway } from "../helpers/gateway";
import { app, seedUser, WsClient } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";
import { rotateUserToken } from "../../src/admin/users";
import { sha256Hex } from "../../src/protocol/hash";
import { fileDone, findSecrets, suiteSeed, tally, waitUntil } from "./support";

suiteSeed("revoked-sockets");

const ROOT = resolve(import.meta.dir, "../..");
let tg: TestGateway;
let merchant: TestPeer;
const tokens: string[] = [];
const offset = { s: 0 };

beforeAll(async () => {
  const clock = () => Math.floor(Date.now() / 1000) + offset.s;
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, maxPendingSessions: 100 }, { clock });
  merchant = await startMerchant(tg);
});
afterAll(async () => {
  const leaks = findSecrets(tg.logs, tokens.map((t) => ({ label: "token", value: t })));
  await merchant.stop();
  await tg.close();
  fileDone(import.meta.path);
  expect(leaks).toEqual([]);
});

async function userWithSocket(name: string, header = true) {
  const { user, token } = await seedUser(tg, name, "USD:50.00");
  tokens.push(token);
  const ws = await WsClient.open(tg, { token, header });
  return { user, token, ws };
}

/** Opens a pay session and has the merchant submit an order to it: a `payment_request` push for the user. */
async function pushPaymentRequest(token: string) {
  const s = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
  const r = await submitOrder(merchant, tg, s, orderFor(merchant, tg, { amount: "1.00" }));
  expect(r.status).toBe(200);
  return s;
}

/**
 * A revocation the hub is not told of, as when the CLI in another process makes it: written through the store
 * alone, not through the flow that closes the token's sockets (rotateUserToken).
 */
async function revokeElsewhere(token: string) {
  const revoked = await tg.gw.store.transaction((tx) => tx.tokens.revoke(sha256Hex(token), tg.gw.clock()));
  expect(revoked).toBe(true);
}

function tallied(n = 1) {
  tally.tried("revokedSockets", n);
}

test("rotating a token in this process closes its sockets with 4401 at once; a later push reaches nothing", async () => {
  const a = await userWithSocket("rot-a");
  const b = await WsClient.open(tg, { token: a.token }); // a second socket, authenticated by message
  await pushPaymentRequest(a.token);
  await a.ws.next((m) => m.type === "payment_request");
  const t0 = performance.now();
  const fresh = (await rotateUserToken(tg.gw, "test", a.user.id)).token; // what /admin and the CLI call
  tokens.push(fresh);
  const [ca, cb] = await Promise.all([a.ws.waitClose(1000), b.waitClose(1000)]);
  expect(performance.now() - t0).toBeLessThan(1000);
  expect([ca.code, cb.code]).toEqual([4401, 4401]);
  const seen = a.ws.messages.length + b.messages.length;
  await pushPaymentRequest(fresh);
  await Bun.sleep(200);
  expect(a.ws.messages.length + b.messages.length).toBe(seen);
  // The old token opens no new socket; the new one does.
  const again = await WsClient.open(tg);
  again.send({ type: "auth", token: a.token });
  expect((await again.waitClose(2000)).code).toBe(4401);
  expect(again.messages.map((m) => m.type)).toEqual(["error"]);
  const ok = await WsClient.open(tg, { token: fresh, header: true });
  await ok.next((m) => m.type === "payment_request");
  ok.close();
  tallied(3);
});

test("a revocation by the CLI (another process) closes the socket within 1 s, and it receives nothing after", async () => {
  const a = await userWithSocket("cli-a");
  const name = (await tg.gw.store.read((tx) => tx.users.byId(a.user.id)))!.name;
  // The CLI finds the gateway's database as an operator's would: the data dir, and on PostgreSQL its URL.
  const database = tg.gw.config.databaseUrl ? { OC_DATABASE_URL: tg.gw.config.databaseUrl } : {};
  const cli = Bun.spawnSync([process.execPath, "run", "src/main.ts", "users", "token", name], {
    cwd: ROOT,
    env: { ...process.env, OC_DATA_DIR: tg.dataDir, OC_CONFIG: "", OC_LOG_LEVEL: "error", ...database },
  });
  expect(cli.exitCode).toBe(0);
  const fresh = cli.stdout.toString().trim().split("\n").pop()!;
  tokens.push(fresh);
  const t0 = performance.now();
  const closed = await a.ws.waitClose(1500);
  const ms = performance.now() - t0;
  expect(closed.code).toBe(4401);
  expect(ms).toBeLessThan(1000);
  tally.note("revokedSockets", `CLI rotation → socket closed ${Math.round(ms)} ms after the CLI exited`);
  const seen = a.ws.messages.length;
  await pushPaymentRequest(fresh);
  await Bun.sleep(200);
  expect(a.ws.messages.length).toBe(seen);
  tallied();
});

test("a push right after a revocation made elsewhere (before any sweep) is not delivered: the push re-checks the token", async () => {
  for (let i = 0; i < 10; i++) {
    const a = await userWithSocket(`push-${i}`);
    const other = await seedUser(tg, `push-other-${i}`, "USD:5.00"); // a second user keeps getting pushes
    tokens.push(other.token);
    const s = (await app(tg, a.token, "POST", "/app/pay", {})).json.sessionId as string;
    await revokeElsewhere(a.token);
    const r = await submitOrder(merchant, tg, s, orderFor(merchant, tg, { amount: "1.00" }));
    expect(r.status).toBe(200);
    const closed = await a.ws.waitClose(1000);
    expect(closed.code).toBe(4401);
    expect(a.ws.messages.filter((m) => m.type === "payment_request" || m.type === "payment_update")).toEqual([]);
    tallied();
  }
});

test("messages on a socket whose token was revoked elsewhere: auth answers no `ready`, confirm moves nothing; the socket closes 4401", async () => {
  for (const kind of ["auth", "ping", "confirm"] as const) {
    const a = await userWithSocket(`msg-${kind}`, false);
    const s = await pushPaymentRequest(a.token);
    await a.ws.next((m) => m.type === "payment_request");
    const before = a.ws.messages.length;
    await revokeElsewhere(a.token);
    if (kind === "auth") a.ws.send({ type: "auth", token: a.token });
    if (kind === "ping") a.ws.send({ type: "ping" });
    if (kind === "confirm") a.ws.send({ type: "confirm", sessionId: s });
    const closed = await a.ws.waitClose(1000);
    expect(closed.code).toBe(4401);
    const after = a.ws.messages.slice(before).map((m) => m.type);
    expect(after.every((t) => t === "error")).toBe(true);
    expect((await tg.gw.store.read((tx) => tx.orders.bySession(s)))!.status).toBe("awaiting_confirmation");
    tallied();
  }
});

test("a second `auth` on an open socket must be a valid token of the same user (else an error, never `ready`)", async () => {
  const a = await userWithSocket("auth-a");
  const b = await seedUser(tg, "auth-b");
  tokens.push(b.token);
  a.ws.send({ type: "auth", token: b.token });
  const err = await a.ws.nextNew((m) => m.type === "error");
  expect(err.code).toBe("INVALID_REQUEST");
  a.ws.send({ type: "auth", token: "0".repeat(64) });
  expect((await a.ws.nextNew((m) => m.type === "error")).code).toBe("INVALID_TOKEN");
  a.ws.send({ type: "auth", token: a.token });
  expect(await a.ws.nextNew((m) => m.type !== "payment_request")).toEqual({ type: "ready", user: { id: a.user.id } });
  tallied(3);
});

test("the sweep closes sockets of expired tokens too", async () => {
  const { user } = await seedUser(tg, "exp-a", "USD:50.00");
  const issued = await tg.gw.store.transaction((tx) => tx.tokens.issue(user.id, tg.gw.clock(), { kind: "operator", ttl: 60 }));
  tokens.push(issued.token);
  const ws = await WsClient.open(tg, { token: issued.token, header: true });
  offset.s = 61; // the gateway's clock passes the token's expiry, nothing else: the user's other token has none
  try {
    expect((await ws.waitClose(1000)).code).toBe(4401);
    await waitUntil("hub to forget the socket", () => tg.gw.hub.socketCount(user.id) === 0);
  } finally {
    offset.s = 0;
  }
  tallied();
});
