import { signObject } from "./signed-objects";
import type { MetadataDocument, MetadataConfig } from "./schemas";

export const OUR_CAPABILITIES = ["checkout.create", "orders.create.session", "transfer.create", "transfer.webhook"];

export type MetadataInput = {
  name: string;
  profile?: string;
  icon?: string;
  contact?: string;
  publicKeyHex: string;
  endpoint: string;
  currencies: string[];
  acceptIssuers: number[];
  /** During a key rotation's grace period: the key we signed with before, and when we stopped. */
  previousKey?: { publicKeyHex: string; rotatedAt: number };
  /** Issue 21: the KYC providers whose verifications we accept. */
  kyc?: number[];
};

/**
 * §9.2: our nested document; `signature` is the deep-form signature of `config`. Issue 12: the flat shape's
 * top-level `publicKey`, `endpoint`, `capabilities`, `settlement` are copied next to it (unsigned, as the flat shape
 * has no signature) so readers of either shape find the key; a nested reader ignores them (§2.4 step 2).
 */
export function buildMetadataDocument(m: MetadataInput, sk: Uint8Array): MetadataDocument {
  const config: MetadataConfig = {
    publicKey: m.publicKeyHex,
    endpoint: m.endpoint,
    capabilities: OUR_CAPABILITIES,
    settlement: { currencies: m.currencies, accepts: m.acceptIssuers },
  };
  if (m.previousKey) {
    config.previousKey = m.previousKey.publicKeyHex;
    config.keyRotatedAt = m.previousKey.rotatedAt;
  }
  const doc: MetadataDocument = {
    opencharge: "0.1",
    name: m.name,
    config,
    publicKey: config.publicKey,
    endpoint: config.endpoint,
    capabilities: [...config.capabilities],
    settlement: { currencies: [...m.currencies], accepts: [...m.acceptIssuers] },
    kyc: [...(m.kyc ?? [])],
    signature: signObject(config, sk).signature,
  };
  if (m.profile) doc.profile = m.profile;
  if (m.icon) doc.icon = m.icon;
  if (m.contact) doc.contact = m.contact;
  return doc;
}
