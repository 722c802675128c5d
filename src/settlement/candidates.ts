// §12.2 path selection (`canSettle`): direct → partner reserve → common third party, for the order's currency.
// Configuration decides the first two without I/O; the third needs the gateways' metadata (cached or fetched
// in parallel within one overall budget; unavailable gateways are skipped).
import type { Config } from "../config";
import type { Directory } from "../peers/directory";

export type Candidate =
  | { type: "direct" }
  | { type: "partner_reserve"; via: number }
  | { type: "common_third_party"; via: number; provider: number }
  | { type: "checkout"; via: number };

export const METADATA_BUDGET_MS = 5000;

export function localCandidates(config: Pick<Config, "ocid" | "partners">, accepts: number[], currency: string): Candidate[] {
  const out: Candidate[] = [];
  if (accepts.includes(config.ocid)) out.push({ type: "direct" });
  for (const g of accepts) {
    if (g === config.ocid) continue;
    if (config.partners.some((p) => p.ocid === g && p.reserveCurrencies.includes(currency))) out.push({ type: "partner_reserve", via: g });
  }
  return out;
}

/** Providers where we hold an account in this currency. */
export function providersFor(config: Pick<Config, "providers">, currency: string): Set<number> {
  return new Set(config.providers.filter((p) => p.currencies.includes(currency)).map((p) => p.ocid));
}

export async function selectCandidates(
  config: Pick<Config, "ocid" | "partners" | "providers">,
  directory: Directory,
  accepts: number[],
  currency: string,
  budgetMs = METADATA_BUDGET_MS,
): Promise<Candidate[]> {
  const out = localCandidates(config, accepts, currency);
  const ours = providersFor(config, currency);
  if (ours.size === 0) return out;
  const taken = new Set(out.map((c) => ("via" in c ? c.via : config.ocid)));
  const remaining = [...new Set(accepts)].filter((g) => !taken.has(g) && g !== config.ocid);
  if (remaining.length === 0) return out;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<null>((r) => (timer = setTimeout(r, budgetMs, null)));
  const metas = await Promise.all(remaining.map((g) => Promise.race([directory.resolve(g).catch(() => null), budget])));
  clearTimeout(timer);
  remaining.forEach((g, i) => {
    const p = metas[i]?.settlement.accepts.find((x) => ours.has(x) && x !== g);
    if (p !== undefined) out.push({ type: "common_third_party", via: g, provider: p });
  });
  return out;
}
