// Issue 13: the code recognisers (pure): which text is which kind of code, and what is refused as what.
import { expect, test } from "bun:test";
import { recogniseCode, RECOGNISERS, type Recogniser } from "../../src/protocol/scan-codes";
import { checkPick, itemsMatch, normaliseInventory, priceMinor } from "../../src/protocol/inventory";
import { buildCurrencyTable } from "../../src/protocol/currencies";

test("the docs' codes: POS order QR, vending inventory QR, stickers with and without amount", () => {
  expect(recogniseCode('{"ocid":500,"order":"https://pos.example/api/orders/ord_1","expiresAt":1706313950}')).toEqual({
    kind: "order", ocid: 500, url: "https://pos.example/api/orders/ord_1", expiresAt: 1706313950,
  });
  expect(recogniseCode('{"ocid":500,"inventory":"https://vend.example/api/inventory","expiresAt":null}')).toEqual({
    kind: "inventory", ocid: 500, url: "https://vend.example/api/inventory", expiresAt: null,
  });
  expect(recogniseCode("opencharge:500")).toEqual({ kind: "payment", ocid: 500 });
  expect(recogniseCode("  OPENCHARGE:500?amount=15000&currency=UGX&ref=order-123\n")).toEqual({ kind: "payment", ocid: 500, amount: "15000", currency: "UGX", ref: "order-123" });
  expect(recogniseCode("opencharge:500?ref=a%20b&other=ignored")).toEqual({ kind: "payment", ocid: 500, ref: "a b" });
});

test("refusals name what the text was", () => {
  expect(recogniseCode('{"ocid":200,"order":"https://w.example/opencharge/orders/create/4c1e9a7b2d5f80316e9b4a7c2f5d8e10","expiresAt":1}')).toMatchObject({ refused: "NOT_A_MERCHANT", details: { reason: "wallet_pay_code" } });
  expect(recogniseCode("opencharge:500?amount=1e3")).toEqual({ refused: "INVALID_AMOUNT", details: { reason: "amount" } });
  expect(recogniseCode("opencharge:9007199254740992")).toEqual({ refused: "CODE_NOT_RECOGNIZED", details: { reason: "ocid" } });
  expect(recogniseCode(`opencharge:5?ref=${"r".repeat(129)}`)).toEqual({ refused: "CODE_NOT_RECOGNIZED", details: { reason: "ref" } });
  expect(recogniseCode('{"ocid":5,"order":"https://x.example/o","expiresAt":1.5}')).toEqual({ refused: "CODE_NOT_RECOGNIZED", details: { reason: "expiresAt" } });
  expect(recogniseCode("[1,2]")).toEqual({ refused: "CODE_NOT_RECOGNIZED", details: { reason: "unknown_format" } });
  expect(recogniseCode("{not json")).toEqual({ refused: "CODE_NOT_RECOGNIZED", details: { reason: "unknown_format" } });
});

test("recognisers are data: a new kind is one more entry, tried in order", () => {
  const names = RECOGNISERS.map((r) => r.name);
  expect(names).toEqual(["ocid_transfer", "hosted_checkout", "wallet_pay_code", "order", "inventory", "payment"]);
  const extra: Recogniser = { name: "test", recognise: ({ text }) => (text === "magic" ? { kind: "payment", ocid: 7 } : null) };
  expect(recogniseCode("magic", [...RECOGNISERS, extra])).toEqual({ kind: "payment", ocid: 7 });
  expect(recogniseCode("magic")).toMatchObject({ refused: "CODE_NOT_RECOGNIZED" });
});

test("inventory: normalised bounds and currency, picks checked, totals in minor units, items matched", () => {
  const table = buildCurrencyTable({});
  const r = normaliseInventory({ inventory: { currency: "USD", items: [{ id: "a", name: "A", price: "0.10", max_qty: 50 }, { id: "b", name: "B", price: "0", min_qty: 0 }] } }, 1);
  expect(r).toEqual({ ok: true, inventory: { currency: "USD", items: [
    { id: "a", name: "A", price: "0.10", currency: "USD", min_qty: 1, max_qty: 50, available: true },
    { id: "b", name: "B", price: "0", currency: "USD", min_qty: 1, max_qty: 10, available: true },
  ] } });
  if (!r.ok) throw new Error();
  // 0.10 × 30 is exactly 3.00: no floats anywhere.
  expect(checkPick(r.inventory, { items: [{ id: "a", quantity: 30 }, { id: "b", quantity: 1 }] }, table)).toEqual({ ok: true, totalMinor: 300n });
  expect(checkPick(r.inventory, { items: [{ id: "a", quantity: 51 }] }, table)).toMatchObject({ ok: false, fields: ["items[0].quantity"] });
  expect(normaliseInventory({ ocid: 2, currency: "USD", items: [{ id: "a", name: "A", price: "1" }] }, 1)).toEqual({ ok: false, reason: "ocid_mismatch" });
  expect(normaliseInventory({ items: [{ id: "a", name: "A", price: "1" }] }, 1)).toEqual({ ok: false, reason: "currency_missing" });
  expect(normaliseInventory({ currency: "USD", items: [{ id: "a", name: "A", price: "1" }, { id: "a", name: "A2", price: "2" }] }, 1)).toMatchObject({ ok: false, reason: "duplicate_item" });
  expect(priceMinor("1.005", "USD", table)).toBeNull();
  expect(priceMinor("15000", "UGX", table)).toBe(15000n);
  const pick = { items: [{ id: "a", quantity: 2 }, { id: "b", quantity: 1 }] };
  expect(itemsMatch([{ id: "b", quantity: 1 }, { id: "a", quantity: 2 }], pick)).toBe(true);
  expect(itemsMatch([{ id: "a", quantity: 2 }], pick)).toBe(false);
  expect(itemsMatch([{ id: "a", quantity: 2 }, { id: "a", quantity: 1 }], pick)).toBe(false);
  expect(itemsMatch(undefined, pick)).toBe(false);
});

test("issue 22: a hosted checkout page's URL is recognised as kind checkout (whose it is, the handler decides)", () => {
  const id = "ab".repeat(16);
  expect(recogniseCode(` https://wallet.example/checkout/${id}\n`)).toEqual({ kind: "checkout", url: `https://wallet.example/checkout/${id}`, sessionId: id });
  expect(recogniseCode(`http://localhost:8080/pay/checkout/${id}/`)).toMatchObject({ kind: "checkout", sessionId: id });
  for (const bad of [`https://w.example/checkout/${id}x`, `https://w.example/checkout/${id.toUpperCase()}`, `ftp://w.example/checkout/${id}`, `https://w.example/checkout/${id}?a=1`])
    expect(recogniseCode(bad)).toMatchObject({ refused: "CODE_NOT_RECOGNIZED" });
});
