// Issue 16: what an operator API key may do. One scope per kind of data and direction; routes name theirs.
export const SCOPES = [
  "users:read",
  "users:write",
  "funds:write",
  "orders:read",
  "orders:write",
  "refunds:write",
  "deliveries:read",
  "deliveries:write",
  "peers:write",
  "ledger:read",
  "events:read",
  "events:write",
  "audit:read",
] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

/** "a,b" → validated scopes, or the first unknown name. */
export function parseScopes(csv: string): { ok: true; scopes: Scope[] } | { ok: false; unknown: string } {
  const scopes: Scope[] = [];
  for (const s of csv
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!isScope(s)) return { ok: false, unknown: s };
    if (!scopes.includes(s)) scopes.push(s);
  }
  return { ok: true, scopes };
}
