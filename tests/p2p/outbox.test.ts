// Issue 17 step 3, the outbox's clock-driven rules (the same as settlement's, §12.4): an unknown outcome is retried
// with the same key and bytes and never refunded; past the deadline it is listed for the operator; before the
// recipient gateway may forget the Idempotency-Key (24 h) resends stop and the transfer waits in review.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow } from "../helpers/inspect";
import { TestPeer } from "../peers/kit";
import { until } from "../web/browser";

let A: PortTestGateway;
let peer: TestPeer;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
const bodies: string[] = [];

beforeAll(async () => {
  A = await startPortTestGateway({ ocid: 300, rateLimits: NO_RATE_LIMITS }, { clock: now });
  peer = await TestPeer.start({ ocid: 500, name: "Silent Gateway", capabilities: ["transfer.create"] });
  peer.trustGateway(300, A.gw.key.publicKeyHex);
  peer.route("GET", "/users/5001/metadata.json", () => ({ body: { ...peer.metadataDocument("nested"), name: "sam", gateway: 500 }, sign: false }));
  // Takes every request and never answers: the outcome stays unknown.
  peer.route("POST", "/transfer/create", (req) => {
    bodies.push(new TextDecoder().decode(req.rawBody) + "|" + req.headers.get("idempotency-key"));
    return { dropConnection: true };
  });
  await A.gw.directory.add(500, peer.endpoint);
  await A.gw.directory.add(5001, `${peer.endpoint}/users/5001/metadata.json`);
});
afterAll(async () => {
  await A?.close();
  await peer?.stop();
});

const row = async (id: string) => (await A.gw.store.read((tx) => tx.p2p.byId(id)))!;

test("unknown outcome: same key and bytes every attempt, never refunded, listed after the deadline, in review before 24 h", async () => {
  const u = await seedUser(A, "ulla", "USD:10.00");
  const r = await app(A, u.token, "POST", "/app/transfer", { to: 5001, amount: "4.00", currency: "USD", idempotencyKey: "k1" });
  expect([r.status, r.json.status]).toEqual([200, "pending"]);
  const id = r.json.transfer.id as string;
  expect(await row(id)).toMatchObject({ pinned: 1, state: "pending", attempts: 1 });

  offset.s += 6; // the 5 s retry is due
  A.scheduler.wake();
  await until(async () => (await row(id)).attempts >= 2, "the retry");
  expect(new Set(bodies).size).toBe(1); // one body, one key, whatever the attempt
  expect(bodies[0]).toEndWith(`|${id}`);

  offset.s += 901; // past the settlement deadline
  A.scheduler.wake();
  await until(async () => (await row(id)).reviewNoted === 1, "the deadline anomaly");
  expect((await dbRow<{ n: number }>(A, "SELECT COUNT(*) AS n FROM anomalies WHERE kind = 'unresolved_transfer'"))!.n).toBe(1);
  expect((await row(id)).state).toBe("pending");

  offset.s += 23 * 3600; // the recipient's idempotency window is about to close: no more resends
  A.scheduler.wake();
  await until(async () => (await row(id)).state === "in_review", "review");
  const sent = bodies.length;
  offset.s += 3600;
  A.scheduler.wake();
  await Bun.sleep(300);
  expect(bodies.length).toBe(sent);
  expect((await row(id)).status).toBe("pending");
  expect((await portBalance(A, `user:${u.user.id}`))).toBe(600n); // never refunded automatically
  expect((await portBalance(A, "settlement_in_flight"))).toBe(400n);
  const h = (await app(A, u.token, "GET", "/app/history")).json.items;
  expect(h.find((i: any) => i.kind === "sent")).toMatchObject({ status: "pending", to: { ocid: 5001, gateway: 500, name: "sam" } });
  await assertPortLedgerBalanced(A);
}, 30_000);
