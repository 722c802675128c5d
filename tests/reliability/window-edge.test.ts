// Issue 23 items 1-2: replay at the timestamp window's edge. The clock is injected and moved to the second: a
// request dated `first use + window` stays acceptable until `first use + 2 x window`, so its nonce must be kept at
// least that long, whatever `authWindow` says, and a row is reusable only strictly after that.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { TestPeer, type CallResult } from "../peers/kit";
import { nonceRecorder, nonceRetention, pruneNonces } from "../../src/store/nonces";
import { fileDone, suiteSeed, tally } from "./support";

suiteSeed("window-edge");

const T0 = 1_800_000_000;
const started: { tg: PortTestGateway; funder: TestPeer }[] = [];

afterAll(async () => {
  for (const s of started) {
    await s.funder.stop();
    await s.tg.close();
  }
  fileDone(import.meta.path);
});

async function gatewayWithWindow(window: number) {
  const clock = { now: T0 };
  const tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, authWindow: window }, { clock: () => clock.now });
  const funder = await TestPeer.start({ ocid: 501, name: "Funder" });
  funder.trustGateway(200, tg.gw.key.publicKeyHex);
  await tg.gw.directory.add(501, funder.endpoint);
  const { user } = await seedUser(tg, "payee");
  await tg.gw.store.transaction((tx) => tx.ledger.move({ from: "funding", to: "peer:501", currency: "USD", amount: 100_000n, reason: "funding", now: T0 }));
  started.push({ tg, funder });
  const transfer = (timestamp: number) =>
    funder.call(tg.url, "POST", "/opencharge/transfer/create", { from: { ocid: 501 }, to: { ocid: 200, reference: `user_${user.id}` }, amount: "1.00", currency: "USD" }, { timestamp });
  return { tg, clock, transfer, payee: `user:${user.id}` };
}

/** The nonce sweep's prune, through the port (the engine's own statement), at the injected clock's now. */
const prune = (tg: PortTestGateway, now: number) => tg.gw.store.transaction((tx) => tx.nonces.prune(now));

async function resend(r: CallResult) {
  const res = await fetch(r.sent.url, { method: "POST", headers: r.sent.headers, body: r.sent.rawBody });
  const json = (await res.json()) as any;
  tally.tried("windowEdge");
  tally.status("windowEdge", res.status);
  return `${res.status} ${json?.error?.code ?? "moved"}`;
}

test("a transfer dated now + window, replayed byte for byte at every second up to and past the edge, moves money once", async () => {
  const { tg, clock, transfer, payee } = await gatewayWithWindow(300);
  const first = await transfer(T0 + 300);
  expect(first.status).toBe(200);
  const credited = await portBalance(tg, payee);
  // Before the fix: NONCE_REUSED at +599, accepted at +600 (row kept exactly 600 s, reusable at expires_at <= now).
  for (const dt of [1, 300, 599, 600]) {
    clock.now = T0 + dt;
    expect(`+${dt}s ${await resend(first)}`).toBe(`+${dt}s 401 NONCE_REUSED`);
  }
  clock.now = T0 + 601;
  expect(await resend(first)).toBe("401 TIMESTAMP_EXPIRED");
  // Pruning at the edge keeps the row (it may still block); the replay stays refused after a prune.
  clock.now = T0 + 600;
  await prune(tg, clock.now);
  expect(await resend(first)).toBe("401 NONCE_REUSED");
  expect(await portBalance(tg, payee)).toBe(credited);
  expect(await portBalance(tg, "peer:501")).toBe(100_000n - 100n);
  await assertPortLedgerBalanced(tg);
});

test("a longer authWindow lengthens retention: with 900 s, a transfer replayed 603 s and 1800 s later is refused", async () => {
  const { tg, clock, transfer, payee } = await gatewayWithWindow(900);
  const plain = await transfer(T0);
  expect(plain.status).toBe(200);
  const ahead = await transfer(T0 + 900);
  expect(ahead.status).toBe(200);
  const credited = await portBalance(tg, payee);
  for (const dt of [603, 900]) {
    clock.now = T0 + dt;
    await prune(tg, clock.now);
    expect(`plain +${dt}s ${await resend(plain)}`).toBe(`plain +${dt}s 401 NONCE_REUSED`);
  }
  clock.now = T0 + 901;
  expect(await resend(plain)).toBe("401 TIMESTAMP_EXPIRED");
  for (const dt of [603, 1200, 1800]) {
    clock.now = T0 + dt;
    await prune(tg, clock.now);
    expect(`ahead +${dt}s ${await resend(ahead)}`).toBe(`ahead +${dt}s 401 NONCE_REUSED`);
  }
  clock.now = T0 + 1801;
  expect(await resend(ahead)).toBe("401 TIMESTAMP_EXPIRED");
  expect(await portBalance(tg, payee)).toBe(credited);
  await assertPortLedgerBalanced(tg);
});

test("nonce store: retention is 2 x window + skew; a row is reusable only strictly after its expiry, also after pruning", () => {
  for (const window of [60, 300, 900, 3600]) {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE nonces (ocid INTEGER NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (ocid, nonce)) WITHOUT ROWID");
    const record = nonceRecorder(db, window);
    const keep = nonceRetention(window);
    expect(keep).toBeGreaterThanOrEqual(2 * window + 1);
    expect(record(1, "n", T0)).toBe(true);
    expect(record(1, "n", T0 + keep)).toBe(false); // the last second it must block
    expect(pruneNonces(db, T0 + keep)).toBe(0);
    expect(record(1, "n", T0 + keep + 1)).toBe(true); // strictly after: reusable
    expect(record(2, "n", T0)).toBe(true); // per sender
    expect(pruneNonces(db, T0 + keep + 1)).toBe(1);
    tally.tried("windowEdge", 4);
    db.close();
  }
});
