// §4.2, §4.5 and §5: the exact strings that get signed.

/** Deep canonical JSON (§5.1): a recursive serialiser, never a sorted copy (integer-like keys would reorder). */
export function canonDeep(v: unknown): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) return "null";
    return JSON.stringify(v) ?? "null";
  }
  if (Array.isArray(v)) return "[" + v.map((e) => (e === undefined ? "null" : canonDeep(e))).join(",") + "]";
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonDeep(obj[k])).join(",") + "}";
}

/**
 * The docs' `JSON.stringify(x, Object.keys(x).sort())` (§5.2). Its allow-list applies at every depth,
 * so nested fields whose names are not top-level keys are silently NOT signed — interop fallback only.
 */
export function canonReplacer(v: Record<string, unknown>): string {
  return JSON.stringify(v, Object.keys(v).sort());
}

export type RequestSigningInput = {
  ocid: string;
  timestamp: string;
  nonce: string;
  method: string;
  path: string;
  bodyHash: string;
};

export function requestCanonical(r: RequestSigningInput): string {
  return [r.ocid, r.timestamp, r.nonce, r.method.toUpperCase(), r.path, r.bodyHash].join("\n");
}

export function responseCanonical(
  ocid: number | string,
  timestamp: number | string,
  status: number,
  bodyHash: string,
): string {
  return `${ocid}\n${timestamp}\n${status}\n${bodyHash}`;
}
