// Issue 13: a merchant's inventory (the vending-machine / kiosk flow) and the user's pick from it. Pure.
// The public docs' exact document is not known here; this is the shape a merchant integrating would expect, and the
// one the OpenAPI document publishes: `{name?, currency?, items:[{id, name, price, currency?, min_qty?, max_qty?,
// description?, available?}]}` (optionally wrapped as `{inventory:{…}}`). Unknown fields are allowed and ignored.
import { Type as T, type Static } from "@sinclair/typebox";
import { AmountSyntax, CurrencyCode, Id128, Ocid } from "./schemas";
import { compileValidator } from "./validate";
import type { CurrencyTable } from "./currencies";

/** Picker bounds when the merchant gives none: at least 1, at most 10 of an item per order. */
export const DEFAULT_MIN_QTY = 1;
export const DEFAULT_MAX_QTY = 10;
const QTY_LIMIT = 10_000;

export const InventoryItem = T.Object(
  {
    id: Id128,
    name: T.String({ minLength: 1, maxLength: 256 }),
    price: AmountSyntax,
    currency: T.Optional(CurrencyCode),
    min_qty: T.Optional(T.Integer({ minimum: 0, maximum: QTY_LIMIT })),
    max_qty: T.Optional(T.Integer({ minimum: 1, maximum: QTY_LIMIT })),
    description: T.Optional(T.String({ maxLength: 512 })),
    available: T.Optional(T.Boolean()),
  },
  { additionalProperties: true },
);

export const InventoryDocument = T.Object(
  {
    ocid: T.Optional(Ocid),
    name: T.Optional(T.String({ maxLength: 256 })),
    currency: T.Optional(CurrencyCode),
    items: T.Array(InventoryItem, { minItems: 1, maxItems: 200 }),
  },
  { additionalProperties: true },
);

/** What we keep and show: every item with its currency and picker bounds resolved. */
export const Inventory = T.Object({
  name: T.Optional(T.String()),
  currency: CurrencyCode,
  items: T.Array(
    T.Object({
      id: T.String(),
      name: T.String(),
      price: T.String(),
      currency: CurrencyCode,
      min_qty: T.Integer(),
      max_qty: T.Integer(),
      available: T.Boolean(),
      description: T.Optional(T.String()),
    }),
  ),
});
export type Inventory = Static<typeof Inventory>;

export const ItemPick = T.Object(
  { id: Id128, quantity: T.Integer({ minimum: 1, maximum: QTY_LIMIT }) },
  { additionalProperties: false },
);
export const ScanOrderRequest = T.Object(
  { items: T.Array(ItemPick, { minItems: 1, maxItems: 200 }) },
  { additionalProperties: false },
);
export type ScanOrderRequest = Static<typeof ScanOrderRequest>;

const checkDocument = compileValidator(InventoryDocument);

export type InventoryResult = { ok: true; inventory: Inventory } | { ok: false; reason: string; fields?: string[] };

/** A merchant's document → our Inventory, or why not (one currency per inventory; bounds consistent). */
export function normaliseInventory(raw: Record<string, unknown>, merchantOcid: number): InventoryResult {
  const doc =
    raw.inventory !== null && typeof raw.inventory === "object" && !Array.isArray(raw.inventory)
      ? (raw.inventory as Record<string, unknown>)
      : raw;
  const v = checkDocument(doc);
  if (!v.ok) return { ok: false, reason: "schema", fields: v.fields };
  const d = v.value;
  if (d.ocid !== undefined && d.ocid !== merchantOcid) return { ok: false, reason: "ocid_mismatch" };
  const currencies = new Set(d.items.map((i) => i.currency ?? d.currency));
  if (currencies.has(undefined)) return { ok: false, reason: "currency_missing" };
  if (currencies.size !== 1) return { ok: false, reason: "mixed_currencies" };
  const currency = [...currencies][0]!;
  const ids = new Set<string>();
  const items: Inventory["items"] = [];
  for (const [i, it] of d.items.entries()) {
    if (ids.has(it.id)) return { ok: false, reason: "duplicate_item", fields: [`items[${i}].id`] };
    ids.add(it.id);
    const min = Math.max(1, it.min_qty ?? DEFAULT_MIN_QTY);
    const max = it.max_qty ?? Math.max(min, DEFAULT_MAX_QTY);
    if (max < min) return { ok: false, reason: "quantity_bounds", fields: [`items[${i}].max_qty`] };
    const item: Inventory["items"][number] = {
      id: it.id,
      name: it.name,
      price: it.price,
      currency,
      min_qty: min,
      max_qty: max,
      available: it.available ?? true,
    };
    if (it.description !== undefined) item.description = it.description;
    items.push(item);
  }
  const inv: Inventory = { currency, items };
  if (d.name) inv.name = d.name;
  return { ok: true, inventory: inv };
}

/** An item price in minor units (zero allowed), or null when it has more fraction digits than the currency. */
export function priceMinor(price: string, currency: string, table: CurrencyTable): bigint | null {
  const exp = table.get(currency);
  if (exp === undefined) return null;
  const [intPart, frac = ""] = price.split(".") as [string, string?];
  if (frac.length > exp && /[^0]/.test(frac.slice(exp))) return null;
  return BigInt(intPart + frac.slice(0, exp).padEnd(exp, "0"));
}

export type PickResult = { ok: true; totalMinor: bigint } | { ok: false; fields: string[]; message: string };

/** The user's pick against the inventory: known, available items, each once, within min_qty…max_qty. */
export function checkPick(inv: Inventory, pick: ScanOrderRequest, table: CurrencyTable): PickResult {
  const byId = new Map(inv.items.map((i) => [i.id, i]));
  const seen = new Set<string>();
  let total = 0n;
  for (const [i, p] of pick.items.entries()) {
    const item = byId.get(p.id);
    if (!item || !item.available)
      return { ok: false, fields: [`items[${i}].id`], message: `Item ${p.id} is not on sale here` };
    if (seen.has(p.id)) return { ok: false, fields: [`items[${i}].id`], message: `Item ${p.id} is listed twice` };
    seen.add(p.id);
    if (p.quantity < item.min_qty || p.quantity > item.max_qty)
      return {
        ok: false,
        fields: [`items[${i}].quantity`],
        message: `Quantity of ${item.name} must be ${item.min_qty}–${item.max_qty}`,
      };
    const unit = priceMinor(item.price, item.currency, table);
    if (unit === null) return { ok: false, fields: [`items[${i}].id`], message: `Item ${p.id} has an unusable price` };
    total += unit * BigInt(p.quantity);
  }
  return { ok: true, totalMinor: total };
}

/**
 * The signed order's items are exactly what was asked for (same ids, same quantities; names and prices are the
 * merchant's).
 */
export function itemsMatch(
  orderItems: { id: string; quantity: number }[] | undefined,
  pick: ScanOrderRequest,
): boolean {
  if (!orderItems || orderItems.length !== pick.items.length) return false;
  const asked = new Map(pick.items.map((p) => [p.id, p.quantity]));
  const got = new Set<string>();
  for (const it of orderItems) {
    if (got.has(it.id) || asked.get(it.id) !== it.quantity) return false;
    got.add(it.id);
  }
  return true;
}
