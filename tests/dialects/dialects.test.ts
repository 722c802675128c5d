// Issue 12 — the dialect kit: merchants written the way the public docs write them, each on a real library, each
// paying through the real gateway (HTTP on loopback): the wallet user's QR (decoded from the PNG) → the merchant's
// POS signs and submits an order → the user confirms → our proof reaches the merchant's webhook handler, which
// verifies it with its own code and marks the order paid on its own books. The table of outcomes is printed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, assertPortLedgerBalanced } from "../helpers/wallet";
import { DocsMerchant, type Style } from "./merchant";
import * as lib from "./signing";

type KitEntry = { name: string; make: (sk: string) => lib.Signer | Promise<lib.Signer>; style: Style; skip?: boolean };

export const KIT: KitEntry[] = [
  { name: "docs · noble 1.7 (DER)", make: lib.noble17, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · noble 2.x (compact)", make: lib.noble2x, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · noble 3.x (compact, replacer only)", make: lib.noble3x, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · noble 3.x prehash default (double hash)", make: lib.noble3xPrehashed, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · elliptic (DER)", make: lib.ellipticSigner, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · ethers v6 (r‖s‖v, recover)", make: lib.ethersSigner, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · npm secp256k1 (compact)", make: lib.secp256k1Sdk, style: { canon: "replacer", metadata: "nested" } },
  { name: "docs · node:crypto (DER)", make: lib.nodeCryptoSigner, style: { canon: "replacer", metadata: "nested" }, skip: !lib.nodeAvailable },
  { name: "docs POS · noble 2.x, numeric item prices", make: lib.noble2x, style: { canon: "replacer", metadata: "nested", numericPrices: true } },
  { name: "SDK · noble 3.x, flat metadata, deep form", make: lib.noble3x, style: { canon: "deep", metadata: "flat" } },
  { name: "SDK · elliptic, flat metadata, deep form", make: lib.ellipticSigner, style: { canon: "deep", metadata: "flat" } },
];

type Row = { merchant: string; submit: string; confirm: string; webhook: string; paid: boolean; recorded: string };
const rows: Row[] = [];
let tg: PortTestGateway;

beforeAll(async () => {
  // The OS-chosen port is written into the derived public URL, so the QR and our metadata name what merchants reach.
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
});
afterAll(async () => {
  const w = (r: Row) => [r.merchant.padEnd(48), r.submit.padEnd(26), r.confirm.padEnd(10), r.paid ? "PAID " : "no   ", r.webhook.padEnd(60), r.recorded].join(" ");
  console.log(["", "dialect kit: merchant | submit | confirm | paid on merchant's books | webhook answers | dialect recorded", ...rows.map(w)].join("\n"));
  await tg.close();
});

function decodeQr(dataUrl: string): string {
  const img = PNG.sync.read(Buffer.from(dataUrl.split(",")[1]!, "base64"));
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)!.data;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await Bun.sleep(25);
  }
  return cond();
}

let nextOcid = 700;
for (const entry of KIT) {
  test.skipIf(!!entry.skip)(`${entry.name}: a payment completes end to end`, async () => {
    const ocid = nextOcid++;
    const sk = Buffer.from(new Bun.CryptoHasher("sha256").update(`merchant ${ocid}`).digest()).toString("hex");
    const merchant = await new DocsMerchant(ocid, entry.name, await entry.make(sk), entry.style).start();
    const row: Row = { merchant: entry.name, submit: "-", confirm: "-", webhook: "", paid: false, recorded: "" };
    rows.push(row);
    try {
      merchant.knowGateway(tg.gw.config.ocid, tg.gw.config.endpoint);
      await tg.gw.directory.add(ocid, merchant.endpoint);
      const { user, token } = await seedUser(tg, `payer_${ocid}`, "USD:20.00");
      const pay = await app(tg, token, "POST", "/app/pay", {});
      const qrText = decodeQr(pay.json.qrCode);
      expect(qrText).toBe(pay.json.qrText);
      const sub = await merchant.scan(qrText).catch((e) => ({ status: 0, json: { error: { code: String(e.message) } }, orderId: "" }));
      row.submit = sub.status === 200 ? "200" : `${sub.status} ${sub.json?.error?.code ?? ""}`;
      expect(sub.status).toBe(200);
      const c = await app(tg, token, "POST", `/app/confirm/${pay.json.sessionId}`, {});
      row.confirm = c.json?.status ?? String(c.status);
      expect(c.json.status).toBe("confirmed");
      // Paid on our side regardless; the question is the merchant's books.
      await until(async () => (await tg.gw.store.read((tx) => tx.orders.bySession(pay.json.sessionId)))?.status === "paid", 5000);
      row.paid = await until(() => merchant.books.get(sub.orderId)?.status === "paid", 4000);
      row.webhook = merchant.answers.map((a) => (a.status === 200 ? "200 accepted" : `${a.status} ${a.body?.error?.code ?? ""}`)).join(", ") || "(none)";
      const d = (tg.gw.store as any).dialects?.get(ocid);
      row.recorded = d ? `${d.encoding}/${d.hash}/${d.form ?? "-"}` : "(not recorded)";
      expect(row.paid).toBe(true);
      expect((await tg.gw.store.read((tx) => tx.orders.bySession(pay.json.sessionId)))!.status).toBe("paid");
      expect((await tg.gw.store.read((tx) => tx.ledger.balance(`user:${user.id}`, "USD")))).toBe(1550n);
      await assertPortLedgerBalanced(tg);
    } finally {
      merchant.stop();
    }
  });
}

// No check is weakened by speaking dialects: a change after signing fails in every dialect the kit speaks, the
// double-hash one included, and the session stays open for an honest order.
const TAMPERS: [string, (o: any) => void][] = [
  ["amount", (o) => (o.amount = "0.01")],
  ["accepts", (o) => (o.accepts = [999])],
  ["order id", (o) => (o.id = o.id + "x")],
];
for (const [name, make, style] of [
  ["SDK · noble 3.x deep form", lib.noble3x, { canon: "deep", metadata: "flat" }],
  ["docs · noble 3.x prehash default (double hash)", lib.noble3xPrehashed, { canon: "replacer", metadata: "nested" }],
  ["docs · elliptic (DER)", lib.ellipticSigner, { canon: "replacer", metadata: "nested" }],
] as const) {
  test(`${name}: tampered orders are refused (400 INVALID_SIGNATURE) in its own dialect`, async () => {
    const ocid = nextOcid++;
    const sk = Buffer.from(new Bun.CryptoHasher("sha256").update(`merchant ${ocid}`).digest()).toString("hex");
    const merchant = await new DocsMerchant(ocid, name, make(sk), style).start();
    try {
      merchant.knowGateway(tg.gw.config.ocid, tg.gw.config.endpoint);
      await tg.gw.directory.add(ocid, merchant.endpoint);
      const { token } = await seedUser(tg, `victim_${ocid}`, "USD:20.00");
      const pay = await app(tg, token, "POST", "/app/pay", {});
      // Items are display-only and outside the replacer form (SPEC §5.4), so an item change is refused only in deep form.
      const tampers = style.canon === "deep" ? [...TAMPERS, ["item price", (o: any) => (o.items[0].price = "0.01")] as const] : TAMPERS;
      for (const [what, tamper] of tampers) {
        const r = await merchant.scan(pay.json.qrText, "4.50", tamper);
        expect(`${what}: ${r.status} ${r.json?.error?.code}`).toBe(`${what}: 400 INVALID_SIGNATURE`);
      }
      expect((await merchant.scan(pay.json.qrText)).status).toBe(200);
    } finally {
      merchant.stop();
    }
  });
}
