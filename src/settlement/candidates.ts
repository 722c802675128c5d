// §12.2 path selection (`canSettle`): direct → partner reserve → common third party, for the order's currency.
// Configuration decides the first two without I/O; the third needs the gateways' metadata (cached or fetched
// in parallel within one overall budget; unavailable gateways are skipped).
import type { Config } from "../config";
import type { Directory } from "../peers/directory";

import type { Candidate } from "../domain/settlement-job";

export type { Candidate };

export const METADATA_BUDGET_MS = 5000;

export function localCandidates(
  config: Pick<Config, "ocid" | "partners">,
  accepts: number[],
  currency: string,
): Candidate[] {
  const out: Candidate[] = [];
  if (accepts.includes(config.ocid)) out.push({ type: "direct" });
  for (const g of accepts) {
    if (g === config.ocid) continue;
    const reserve = config.partners.some((p) => p.ocid === g && p.reserveCurrencies.includes(currency));
    if (reserve) out.push({ type: "partner_reserve", via: g });
  }
  return out;
}

/** Providers where we hold an account in this currency. */
export function providersFor(config: Pick<Config, "providers">, currency: string): Set<number> {
  return new Set(config.providers.filter((p) => p.currencies.includes(currency)).map((p) => p.ocid));
}

/**
 * §12.2's rule, pure: the local candidates, then for each remaining gateway in `accepts` order the first provider
 * in its metadata's `settlement.accepts` where we hold an account in this currency. `providersOf(g)`: that list,
 * or null when `g`'s metadata was unavailable (the gateway is skipped).
 */
export function chooseCandidates(
  config: Pick<Config, "ocid" | "partners" | "providers">,
  accepts: number[],
  currency: string,
  providersOf: (gateway: number) => readonly number[] | null,
): Candidate[] {
  const out = localCandidates(config, accepts, currency);
  const ours = providersFor(config, currency);
  if (ours.size === 0) return out;
  for (const g of remainingGateways(config, out, accepts)) {
    const p = providersOf(g)?.find((x) => ours.has(x) && x !== g);
    if (p !== undefined) out.push({ type: "common_third_party", via: g, provider: p });
  }
  return out;
}

/** Gateways in `accepts` (once each, in order) that are neither us nor already a local candidate. */
function remainingGateways(config: Pick<Config, "ocid">, local: Candidate[], accepts: number[]): number[] {
  const taken = new Set(local.map((c) => ("via" in c ? c.via : config.ocid)));
  return [...new Set(accepts)].filter((g) => !taken.has(g) && g !== config.ocid);
}

/** §12.2 with I/O: the third-party step needs the remaining gateways' metadata, fetched in parallel in one budget. */
export async function selectCandidates(
  config: Pick<Config, "ocid" | "partners" | "providers">,
  directory: Directory,
  accepts: number[],
  currency: string,
  budgetMs = METADATA_BUDGET_MS,
): Promise<Candidate[]> {
  const local = localCandidates(config, accepts, currency);
  const remaining = remainingGateways(config, local, accepts);
  if (providersFor(config, currency).size === 0 || remaining.length === 0) return local;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<null>((r) => (timer = setTimeout(r, budgetMs, null)));
  const metas = await Promise.all(remaining.map((g) => Promise.race([directory.resolve(g).catch(() => null), budget])));
  clearTimeout(timer);
  const byGateway = new Map(remaining.map((g, i) => [g, metas[i]?.settlement.accepts ?? null]));
  return chooseCandidates(config, accepts, currency, (g) => byGateway.get(g) ?? null);
}
