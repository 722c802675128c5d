// §2.4 steps 2–5: any accepted document shape → one PeerMetadata, or why it is unusable. Pure.
import { parsePublicKey } from "./keys";
import { verifyObjectDialect, type VerifiedDialect } from "./signed-objects";
import type { PeerMetadata } from "./schemas";

/** `dialect`: how the config signature verified (absent for an unsigned flat document), for the caller to record. */
export type NormaliseResult =
  | { ok: true; meta: PeerMetadata; dialect?: VerifiedDialect }
  | { ok: false; reason: string };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isOcid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

export function normaliseMetadata(
  doc: unknown,
  ocid: number,
  opts: { acceptReplacer: boolean; httpAllowed: (host: string) => boolean; fetchedAt: number },
): NormaliseResult {
  if (!isObj(doc)) return { ok: false, reason: "not_an_object" };
  const nested = isObj(doc.config);
  const cfg = (nested ? doc.config : doc) as Record<string, unknown>;
  const key = parsePublicKey(cfg.publicKey as string);
  if (!key.ok) return { ok: false, reason: `public_key_${key.reason}` };

  if (typeof cfg.endpoint !== "string" || !URL.canParse(cfg.endpoint)) return { ok: false, reason: "endpoint_invalid" };
  const ep = new URL(cfg.endpoint);
  if (ep.protocol !== "https:" && !(ep.protocol === "http:" && opts.httpAllowed(ep.hostname)))
    return { ok: false, reason: "endpoint_scheme" };
  if (ep.username || ep.password || ep.search || ep.hash) return { ok: false, reason: "endpoint_invalid" };

  if (cfg.capabilities !== undefined && !Array.isArray(cfg.capabilities))
    return { ok: false, reason: "capabilities_invalid" };
  const capabilities = ((cfg.capabilities as unknown[]) ?? []).filter((c): c is string => typeof c === "string");
  if (capabilities.length !== ((cfg.capabilities as unknown[]) ?? []).length)
    return { ok: false, reason: "capabilities_invalid" };

  const settlement = isObj(cfg.settlement) ? cfg.settlement : {};
  const currencies = (Array.isArray(settlement.currencies) ? settlement.currencies : []).filter(
    (c): c is string => typeof c === "string",
  );
  const accepts = (Array.isArray(settlement.accepts) ? settlement.accepts : []).filter(isOcid);

  // Only self-consistency: trust in the key comes from the directory entry that led us here.
  let dialect: VerifiedDialect | undefined;
  if (doc.signature !== undefined) {
    if (!nested) return { ok: false, reason: "signature_without_config" };
    dialect = verifyObjectDialect(cfg, doc.signature, key.point, opts.acceptReplacer) ?? undefined;
    if (!dialect) return { ok: false, reason: "config_signature_invalid" };
  }

  const meta: PeerMetadata = {
    ocid,
    name: typeof doc.name === "string" ? doc.name : "",
    publicKey: key.point,
    endpoint: cfg.endpoint.replace(/\/+$/, ""),
    capabilities,
    settlement: { currencies, accepts },
    fetchedAt: opts.fetchedAt,
  };
  if (typeof doc.icon === "string") meta.icon = doc.icon;
  if (isOcid(doc.gateway) && doc.gateway !== ocid) meta.gateway = doc.gateway;
  return dialect ? { ok: true, meta, dialect } : { ok: true, meta };
}

/** §2.2: a directory value is the metadata URL if its path ends in `.json`, else an endpoint to append to. */
export function metadataUrlFor(value: string): string {
  const u = new URL(value);
  if (u.pathname.endsWith(".json")) return u.toString();
  return value.replace(/[?#].*$/, "").replace(/\/+$/, "") + "/metadata.json";
}
