// Do the items add up to the total? Exact decimal arithmetic on the strings (never floats, §6): each price and the
// total are scaled to a common number of fraction digits as bigint. Fractional quantities are not judged.
import type { Order } from "./api";

const DEC = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

function scaled(s: string, digits: number): bigint | null {
  const m = DEC.exec(s);
  if (!m) return null;
  const frac = (m[2] ?? "").padEnd(digits, "0");
  return BigInt(m[1]! + frac);
}

function format(v: bigint, digits: number): string {
  const s = v.toString().padStart(digits + 1, "0");
  return digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** null when the items add up (or cannot be judged); otherwise the items' sum, in the total's notation. */
export function itemsMismatch(order: Pick<Order, "amount" | "items">): string | null {
  const items = order.items ?? [];
  if (items.length === 0) return null;
  const digitsOf = (s: string) => (s.split(".")[1] ?? "").length;
  const digits = Math.max(digitsOf(order.amount), ...items.map((i) => digitsOf(String(i.price))));
  const total = scaled(order.amount, digits);
  if (total === null) return null;
  let sum = 0n;
  for (const it of items) {
    const price = scaled(String(it.price), digits);
    if (price === null || !Number.isSafeInteger(it.quantity)) return null;
    sum += price * BigInt(it.quantity);
  }
  return sum === total ? null : format(sum, digits);
}
