// Issue 15: the event log. One JSON line per order state change, settlement step outcome, delivery attempt (with
// the merchant's answer), credit, operator action and shutdown, from the real server; never a token, key or
// signature; the demo-mode warning on every start.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { runCli } from "../../src/cli/run";
import { creditUser } from "../../src/flows/accounts";
import { expireDueOrders } from "../../src/flows/answer-payment";
import type { TestPeer } from "../peers/kit";

let tg: TestGateway;
let merchant: TestPeer;
const offset = { s: 0 };
const now = () => Math.floor(Date.now() / 1000) + offset.s;
const dataDir = mkdtempSync(join(tmpdir(), "oc-events-"));

beforeAll(async () => {
  tg = await startTestGateway({ rateLimits: NO_RATE_LIMITS }, { clock: now, dataDir });
  merchant = await startMerchant(tg, 500);
  // The merchant checks our proof with its own code and answers; its answer must reach the event log.
  merchant.route("POST", "/transfer/webhook", (req) => {
    const { proof, signature } = req.json ?? {};
    const ok = req.authentic && merchant.verifyProof(proof, signature, tg.gw.key.publicKeyHex) === "deep";
    return { body: ok ? { status: "accepted", txid: proof.txid } : { status: "rejected", txid: proof?.txid, message: "bad proof" } };
  });
});
afterAll(async () => {
  await merchant.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const events = () => tg.logs.map((l) => JSON.parse(l)).filter((e) => e.event);
async function until(what: string, pred: () => boolean, ms = 8000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events().slice(-10))}`);
    await Bun.sleep(50);
  }
}

async function submitted(token: string, amount: string) {
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  const order = orderFor(merchant, tg, { amount });
  expect((await submitOrder(merchant, tg, s.sessionId, order)).status).toBe(200);
  return { sessionId: s.sessionId as string, order };
}

test("a paid, a declined and an expired order, a credit, an operator action and a shutdown each log their lines", async () => {
  const { user, token } = addUser(tg, "eve", "USD:50.00");
  const paid = await submitted(token, "4.50");
  expect((await app(tg, token, "POST", `/app/confirm/${paid.sessionId}`, {})).status).toBe(200);
  const declined = await submitted(token, "1.00");
  expect((await app(tg, token, "POST", `/app/decline/${declined.sessionId}`, {})).status).toBe(200);
  const expired = await submitted(token, "2.00");
  offset.s = 700;
  await expireDueOrders(tg.gw);
  offset.s = 0;
  await creditUser(tg.gw, "eve", "USD:3.00");
  expect(await runCli(["users", "add", "frank", "--data-dir", dataDir], { log: () => {}, err: () => {} })).toBe(0);

  const byOrder = (id: string) => events().filter((e) => e.event === "order" && e.orderId === id).map((e) => `${e.from ?? "-"}>${e.to}`);
  await until("the delivery", () => events().some((e) => e.event === "delivery" && e.state === "delivered"));
  await until("the operator action", () => events().some((e) => e.event === "operator"));
  expect(byOrder(paid.order.id as string)).toEqual(["->awaiting_confirmation", "awaiting_confirmation>confirmed", "confirmed>paid"]);
  expect(byOrder(declined.order.id as string)).toEqual(["->awaiting_confirmation", "awaiting_confirmation>declined"]);
  expect(byOrder(expired.order.id as string)).toEqual(["->awaiting_confirmation", "awaiting_confirmation>expired"]);

  const paidLine = events().find((e) => e.event === "order" && e.orderId === paid.order.id && e.to === "paid");
  expect(paidLine).toMatchObject({ level: "info", merchant: 500, amount: "4.50", currency: "USD", user: user.id, settlement: "direct" });
  expect(paidLine.txid).toMatch(/^tx_[0-9a-f]{32}$/);

  const settled = events().filter((e) => e.event === "settlement");
  expect(settled.map((e) => `${e.strategy}:${e.step}:${e.outcome}`)).toContain("direct:direct.credit:done");

  const delivery = events().find((e) => e.event === "delivery" && e.txid === paidLine.txid);
  expect(delivery).toMatchObject({ target: 500, state: "delivered", attempts: 1, httpStatus: 200, outcome: "delivered" });
  expect(JSON.parse(delivery.answer)).toMatchObject({ status: "accepted", txid: paidLine.txid });

  const credits = events().filter((e) => e.event === "credit" && e.account === `user:${user.id}`);
  expect(credits.map((c) => `${c.reason}:${c.minor}`)).toEqual(["funding:5000", "funding:300"]);
  const op = events().find((e) => e.event === "operator" && e.action === "users.create" && e.args.name === "frank");
  expect(op).toMatchObject({ actor: "cli" });

  const row = tg.gw.store.orders.byId(paidLine.order)!;
  await tg.close();
  const last = events().slice(-2).map((e) => e.event);
  expect(last).toEqual(["shutdown", "stopped"]);

  // Never a token, the private key, or a signature.
  const all = tg.logs.join("\n");
  const secrets = [token, Buffer.from(tg.gw.key.secret).toString("hex"), row.finalSignature!, row.signature];
  for (const s of secrets) expect(all.includes(s)).toBe(false);
}, 30_000);

test("demo mode warns on every start, not only the first", async () => {
  const dir = mkdtempSync(join(tmpdir(), "oc-demo-"));
  try {
    for (let i = 0; i < 2; i++) {
      const g = await startTestGateway({ demoMode: true }, { dataDir: dir });
      await g.close();
      expect(g.logs.some((l) => JSON.parse(l).level === "warn" && l.includes("DEMO MODE"))).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
