// A plausible example value for a JSON Schema (TypeBox), for the API reference: the schema's own `examples` or
// `default` first, then something of the right type that meets its limits. Pure and bounded (depth ≤ 6).
type Schema = Record<string, any>;

const STRING_EXAMPLES: [RegExp, string][] = [
  [/^\^\[0-9a-f\]\{32\}\$$/, "4c1e9a7b2d5f80316e9b4a7c2f5d8e10"],
  [/^\^\[A-Z\]\{3,5\}\$$/, "USD"],
  [/^\^\(0\|/, "25.00"],
  [/^\^\[hH\]/, "https://shop.example/opencharge"],
];

export function exampleOf(s: Schema, depth = 0): unknown {
  if (!s || typeof s !== "object" || depth > 6) return null;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.anyOf)) return exampleOf(s.anyOf.find((x: Schema) => x.type !== "null") ?? s.anyOf[0], depth + 1);
  switch (s.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
        if (depth > 2 && !(s.required ?? []).includes(k)) continue;
        out[k] = exampleOf(v, depth + 1);
      }
      return out;
    }
    case "array":
      return s.items ? [exampleOf(s.items, depth + 1)] : [];
    case "integer":
    case "number":
      return typeof s.minimum === "number" && s.minimum > 1
        ? s.minimum
        : s.description?.includes("Unix")
          ? 1706313950
          : 200;
    case "boolean":
      return true;
    case "string": {
      const hit = STRING_EXAMPLES.find(([re]) => typeof s.pattern === "string" && re.test(s.pattern));
      return hit ? hit[1] : "string";
    }
    default:
      return null;
  }
}
