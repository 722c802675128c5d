// Issue 19: the merchant is named in history as the prompt named it (name + OCID + endpoint host), also after the
// gateway restarts and the merchant's metadata can no longer be fetched (the directory knows only its URL then).
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeTestDataDir, startPortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { seedUser, app, WsClient } from "../helpers/wallet";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";

test("history keeps the name the prompt showed across a restart with the merchant's metadata down", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "oc-names-"));
  try {
    const first = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS }, { dataDir });
    const merchant = await startMerchant(first, 510, { name: "Café Lumière" });
    const { token } = await seedUser(first, "nina", "USD:10.00");
    const ws = await WsClient.open(first, { token });
    const s = await app(first, token, "POST", "/app/pay", {});
    expect((await submitOrder(merchant, first, s.json.sessionId, orderFor(merchant, first, { amount: "2.00" }))).status).toBe(200);
    const prompt = await ws.next((m) => m.type === "payment_request");
    const host = new URL(merchant.endpoint).host;
    expect(prompt.merchant).toEqual({ ocid: 510, name: "Café Lumière", host });
    ws.close();
    await first.close();

    merchant.setMetadataDown(true);
    const second = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS }, { dataDir });
    try {
      expect(second.gw.directory.peek(510)?.name).toBeUndefined();
      const h = await app(second, token, "GET", "/app/history");
      expect(h.json.items[0]).toMatchObject({ kind: "payment", merchant: { ocid: 510, name: "Café Lumière", host }, charged: false });
      const v = await app(second, token, "GET", `/app/sessions/${s.json.sessionId}`);
      expect(v.json.merchant).toEqual({ ocid: 510, name: "Café Lumière", host });
    } finally {
      await second.close();
      await merchant.stop();
    }
  } finally {
    await removeTestDataDir(dataDir);
  }
});
