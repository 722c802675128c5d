import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { TSchema, Static } from "@sinclair/typebox";

export const MAX_JSON_DEPTH = 32;

/** One broken schema rule: where, what the rule says, and its limit when it has one (maxLength 128…). */
export type SchemaViolation = { field: string; rule: string; limit?: Record<string, unknown> };

export type Validated<S extends TSchema> =
  | { ok: true; value: Static<S> }
  | { ok: false; fields: string[]; violations: SchemaViolation[]; message: string };

const LIMIT_KEYWORDS = [
  "type",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "minItems",
  "maxItems",
  "const",
];

function limitOf(schema: unknown): Record<string, unknown> | undefined {
  if (!schema || typeof schema !== "object") return undefined;
  const out: Record<string, unknown> = {};
  for (const k of LIMIT_KEYWORDS) if (k in schema) out[k] = (schema as Record<string, unknown>)[k];
  return Object.keys(out).length ? out : undefined;
}

/** "order.id: Expected string length less or equal to 128 (and 2 more)": the first rule broken, in words. */
export function schemaMessage(violations: SchemaViolation[]): string {
  const [first] = violations;
  if (!first) return "Invalid request";
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more: see details.errors)` : "";
  return `${first.field}: ${first.rule}${more}`;
}

/** JSON pointer `/order/items/3/quantity` → `order.items[3].quantity` (the form of §7.1's details.fields). */
export function pointerToPath(pointer: string): string {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let out = "";
  for (const p of parts) out += /^[0-9]+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

export function compileValidator<S extends TSchema>(schema: S): (v: unknown) => Validated<S> {
  const check: TypeCheck<S> = TypeCompiler.Compile(schema);
  return (v) => {
    if (check.Check(v)) return { ok: true, value: v };
    const fields = new Set<string>();
    const violations: SchemaViolation[] = [];
    for (const e of check.Errors(v)) {
      const field = pointerToPath(e.path) || "(root)";
      // The first rule per field is the useful one (a union's later branches only repeat "expected …").
      if (!fields.has(field))
        violations.push({ field, rule: e.message, ...(limitOf(e.schema) ? { limit: limitOf(e.schema) } : {}) });
      fields.add(field);
      if (fields.size >= 20) break;
    }
    return { ok: false, fields: [...fields], violations, message: schemaMessage(violations) };
  };
}

/**
 * Depth of nested arrays/objects, capped at `limit`: returns min(depth, limit). It stops descending at the
 * limit, so a 64 KiB body of ~32k nested brackets cannot overflow the call stack.
 */
export function jsonDepth(v: unknown, limit = MAX_JSON_DEPTH + 1): number {
  if (v === null || typeof v !== "object") return 0;
  if (limit <= 1) return 1;
  let max = 0;
  for (const child of Array.isArray(v) ? v : Object.values(v)) {
    const d = jsonDepth(child, limit - 1);
    if (d > max) max = d;
    if (max + 1 >= limit) break;
  }
  return max + 1;
}

/**
 * True when every string (keys included) is well-formed UTF-16. JSON text may spell an unpaired surrogate
 * (`"\ud800"`); such a string has no UTF-8 form, so SQLite would store U+FFFD instead (two different ids
 * colliding) and encodeURIComponent throws on it. Call after the depth check (recursion is bounded by it).
 */
export function wellFormedStrings(v: unknown): boolean {
  if (typeof v === "string") return v.isWellFormed();
  if (v === null || typeof v !== "object") return true;
  if (Array.isArray(v)) return v.every(wellFormedStrings);
  return Object.entries(v).every(([k, x]) => k.isWellFormed() && wellFormedStrings(x));
}

/** Raw bytes → a JSON object, or why not (§9.1: must be a JSON object; depth ≤ 32; no unpaired surrogates). */
export function parseJsonObject(
  bytes: Uint8Array,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: "invalid_utf8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "malformed_json" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return { ok: false, reason: "not_an_object" };
  if (jsonDepth(value) > MAX_JSON_DEPTH) return { ok: false, reason: "too_deep" };
  if (!wellFormedStrings(value)) return { ok: false, reason: "unpaired_surrogate" };
  return { ok: true, value: value as Record<string, unknown> };
}
