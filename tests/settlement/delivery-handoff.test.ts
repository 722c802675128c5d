// Issue 20 item 5: a settlement run queues its payment's proof delivery already leased to its own scheduler and
// hands it over after the commit (RunLease.keepDeliverySeconds, Scheduler.adopt), so the webhook goes out without a
// claiming pass in between, nor that pass's write, whose fsync the webhook's request would have waited for. When
// the delivery pool is full the lease is given up and the delivery is queued like any other.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, NO_RATE_LIMITS, type TestGateway } from "../helpers/gateway";
import { addUser, app } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import type { TestPeer } from "../peers/kit";
import type { LeasedTable } from "../../src/store/leases";
import { waitUntil } from "../reliability/support";

let tg: TestGateway;
let merchant: TestPeer;
/** Order ids whose webhook arrived; while `hold` is set, webhooks wait for it. */
const arrived: string[] = [];
let hold: Promise<void> | null = null;
/** The tables whose claims (a pass) took rows. */
const claimed: LeasedTable[] = [];

beforeAll(async () => {
  tg = await startTestGateway({ ocid: 200, rateLimits: NO_RATE_LIMITS, maxPendingSessions: 100 });
  merchant = await startMerchant(tg, 510);
  merchant.route("POST", "/transfer/webhook", async (req) => {
    arrived.push(String(req.json?.proof?.to?.reference ?? ""));
    if (hold) await hold;
    return { body: { status: "accepted", txid: req.json?.proof?.txid } };
  });
  const leases = tg.gw.store.leases;
  const claim = leases.claim;
  leases.claim = ((table, ...rest) => {
    const rows = claim(table, ...rest);
    if (rows.length) claimed.push(table);
    return rows;
  }) as typeof claim;
});
afterAll(async () => {
  await merchant.stop();
  await tg.close();
});

const deliveryOf = (orderId: string) =>
  tg.gw.db
    .query<{ state: string; lease_owner: string | null }, [string]>(
      `SELECT d.state, d.lease_owner FROM deliveries d JOIN orders o ON o.id = d.order_id
       WHERE o.order_id = ? AND o.merchant_ocid = 510`,
    )
    .get(orderId);

/** pay → submit → confirm (direct settlement: the order accepts our OCID); the order's id. */
async function confirmedPayment(name: string): Promise<string> {
  const { token } = addUser(tg, name, "USD:100.00");
  const sessionId = (await app(tg, token, "POST", "/app/pay", {})).json.sessionId as string;
  const order = orderFor(merchant, tg, { amount: "1.00" });
  expect((await submitOrder(merchant, tg, sessionId, order)).status).toBe(200);
  expect((await app(tg, token, "POST", `/app/confirm/${sessionId}`, {})).json.status).toBe("confirmed");
  return order.id as string;
}

test("the settlement run's proof delivery is run by its scheduler without a pass claiming it", async () => {
  claimed.length = 0;
  const id = await confirmedPayment("hana");
  await waitUntil("the proof at the merchant's webhook", () => deliveryOf(id)?.state === "delivered", 10_000);
  expect(arrived).toContain(id);
  // The job was claimed by a pass; its delivery never was (it was queued leased and handed over).
  expect(claimed).toEqual(["jobs"]);
});

test("with the delivery pool full, the handed-over delivery is queued for a pass instead and still delivered", async () => {
  let release!: () => void;
  hold = new Promise<void>((r) => (release = r));
  const busy = 16; // the scheduler's delivery pool (DEFAULT_CONCURRENCY)
  const first = await Promise.all(Array.from({ length: busy }, (_, i) => confirmedPayment(`busy${i}`)));
  await waitUntil("16 webhooks held at the merchant", () => first.every((id) => arrived.includes(id)), 10_000);
  claimed.length = 0;
  const late = await confirmedPayment("late");
  // Its lease was given up (not kept while the pool is full) and no pass could take it yet.
  await waitUntil("the late delivery queued unleased", () => deliveryOf(late)?.lease_owner === null, 10_000);
  expect(deliveryOf(late)!.state).toBe("pending");
  expect(arrived).not.toContain(late);
  hold = null;
  release();
  await waitUntil("every proof delivered", () => [...first, late].every((id) => deliveryOf(id)?.state === "delivered"), 10_000);
  expect(claimed).toContain("deliveries"); // a pass claimed the late one once the pool had room
});
