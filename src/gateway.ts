// Everything a request or job needs, built once at start-up and passed down explicitly.
import type { Database } from "bun:sqlite";
import type { Config } from "./config";
import type { Clock } from "./clock";
import type { Logger } from "./log";
import type { GatewayKey } from "./keyfile";
import { buildCurrencyTable, type CurrencyTable } from "./protocol/currencies";
import { buildMetadataDocument } from "./protocol/metadata";
import type { MetadataDocument } from "./protocol/schemas";
import type { ResponseSigner } from "./http/responses";

export type Gateway = {
  config: Config;
  db: Database;
  key: GatewayKey;
  clock: Clock;
  log: Logger;
  currencies: CurrencyTable;
  enabledCurrencies: ReadonlySet<string>;
  metadata: MetadataDocument;
  signer: ResponseSigner;
};

export function buildGateway(parts: { config: Config; db: Database; key: GatewayKey; clock: Clock; log: Logger }): Gateway {
  const { config, key } = parts;
  const currencies = buildCurrencyTable(config.currencies.extra);
  for (const c of config.currencies.enabled)
    if (!currencies.has(c)) throw new Error(`currencies.enabled: ${c} is not in the currency table (add it to currencies.extra)`);
  const metadata = buildMetadataDocument(
    {
      name: config.name,
      profile: config.profile,
      icon: config.icon,
      contact: config.contact,
      publicKeyHex: key.publicKeyHex,
      endpoint: config.endpoint,
      currencies: config.currencies.enabled,
      acceptIssuers: config.acceptIssuers,
    },
    key.secret,
  );
  return {
    ...parts,
    currencies,
    enabledCurrencies: new Set(config.currencies.enabled),
    metadata,
    signer: { ocid: config.ocid, secret: key.secret, clock: parts.clock },
  };
}
