// Everything a request or job needs, built once at start-up and passed down explicitly.
import type { Config } from "./config";
import type { Clock } from "./clock";
import type { Logger } from "./log";
import type { GatewayKey } from "./keyfile";
import { buildCurrencyTable, type CurrencyTable } from "./protocol/currencies";
import { buildMetadataDocument } from "./protocol/metadata";
import type { MetadataDocument } from "./protocol/schemas";
import type { ResponseSigner } from "./http/responses";
import { RateLimiter } from "./http/rate-limit";
import type { AuthDeps } from "./http/auth";
import { Directory, selfMetadata } from "./peers/directory";
import { PeerClient } from "./peers/client";
import { parseAllowlist, type Allowlist } from "./peers/ssrf";
import type { Store } from "./store";
import type { Observed, ObservedIn } from "./store/dialects";
import { Hub } from "./app/hub";
import { inlineVerifier, type Verifier } from "./verify-pool";
import { localUserMetadata } from "./flows/end-user-ocid";
import { parseTiers, type Tier } from "./domain/tiers";

export type Gateway = {
  config: Config;
  key: GatewayKey;
  clock: Clock;
  log: Logger;
  currencies: CurrencyTable;
  enabledCurrencies: ReadonlySet<string>;
  metadata: MetadataDocument;
  /** The document to publish now: without the previous key once its grace period is over. */
  currentMetadata: () => MetadataDocument;
  /** Issue 21: the KYC tiers, lowest first (none configured: no tier limits). */
  tiers: readonly Tier[];
  signer: ResponseSigner;
  limiter: RateLimiter;
  allowlist: Allowlist;
  /** `trustedProxies`: whose X-Forwarded-For is believed (src/http/client-address.ts). */
  trustedProxies: Allowlist;
  directory: Directory;
  auth: AuthDeps;
  peers: PeerClient;
  store: Store;
  hub: Hub;
  verifier: Verifier;
  /** Records the dialect a peer's signature just verified in (issue 12). */
  observeDialect: (ocid: number, d: Observed, what: ObservedIn) => void;
  /** Hooks the scheduler binds to so committed work starts at once (no polling on the hot path). */
  events: { settlementEnqueued: () => void; deliveryEnqueued: () => void };
};

export type GatewayParts = {
  config: Config;
  store: Store;
  key: GatewayKey;
  clock: Clock;
  log: Logger;
  fetchImpl?: typeof fetch;
  verifier?: Verifier;
};

export function buildGateway(parts: GatewayParts): Gateway {
  const { config, key, store, clock, log } = parts;
  const currencies = buildCurrencyTable(config.currencies.extra);
  for (const c of config.currencies.enabled)
    if (!currencies.has(c)) throw new Error(`currencies.enabled: ${c} is not in the currency table (add it to currencies.extra)`);
  const metadataInput = {
    name: config.name,
    profile: config.profile,
    icon: config.icon,
    contact: config.contact,
    publicKeyHex: key.publicKeyHex,
    endpoint: config.endpoint,
    currencies: config.currencies.enabled,
    acceptIssuers: config.acceptIssuers,
    kyc: config.kyc.providers,
  };
  // Issue 15: after `oc keys rotate` the previous key stays published (signed by the new one) for the grace period.
  const graceEnds = key.previous ? key.previous.rotatedAt + config.keyRotationGrace : 0;
  const previousKey = key.previous && clock() <= graceEnds ? key.previous : undefined;
  const metadata = buildMetadataDocument({ ...metadataInput, previousKey }, key.secret);
  const afterGrace = previousKey ? buildMetadataDocument(metadataInput, key.secret) : metadata;
  const allowlist = parseAllowlist(config.outboundAllowlist);
  const verifier = parts.verifier ?? inlineVerifier;
  const { rpcUrl, registryAddress } = config.directory;
  // Issue 12: every verified peer signature records its dialect; a change is worth one log line (never the key).
  const observeDialect = (ocid: number, d: Observed, what: ObservedIn) => {
    if (store.dialects.observe(ocid, d, what, clock())) log.info("peer signature dialect", { ocid, what, ...d });
  };
  const directory = new Directory({
    store: store.directory,
    clock,
    log,
    allowlist,
    self: selfMetadata(config.ocid, config.name, key.publicKeyHex, config.endpoint, config.currencies.enabled, config.acceptIssuers),
    configEntries: config.directory.entries,
    freshTtl: config.metadataTtl,
    acceptReplacer: config.acceptReplacerCanonical,
    evm: rpcUrl && registryAddress ? { rpcUrl, registryAddress } : undefined,
    fetchImpl: parts.fetchImpl,
    onConfigDialect: (ocid, d) => observeDialect(ocid, d, "config"),
    local: (ocid) => localUserMetadata({ config, key, store }, ocid),
  });
  return {
    config,
    key,
    clock,
    log,
    currencies,
    enabledCurrencies: new Set(config.currencies.enabled),
    metadata,
    currentMetadata: () => (clock() <= graceEnds ? metadata : afterGrace),
    tiers: parseTiers(config.kyc.tiers, currencies),
    signer: { ocid: config.ocid, secret: key.secret, clock, offThread: verifier.signsOffThread ? (d, sk) => verifier.signDigest(d, sk) : undefined },
    limiter: new RateLimiter(clock),
    allowlist,
    trustedProxies: parseAllowlist(config.trustedProxies),
    directory,
    auth: {
      directory,
      clock,
      window: config.authWindow,
      basePath: config.basePath,
      recordNonce: store.nonces.recorder(config.authWindow),
      verifier,
      observeDialect: (ocid, d) => observeDialect(ocid, d, "request"),
    },
    verifier,
    store,
    observeDialect,
    hub: new Hub((hashes) => store.tokens.liveHashes(hashes, clock())),
    events: { settlementEnqueued: () => {}, deliveryEnqueued: () => {} },
    peers: new PeerClient({
      ocid: config.ocid,
      secret: key.secret,
      clock,
      directory,
      allowlist,
      window: config.authWindow,
      fetchImpl: parts.fetchImpl,
      dialectFor: (ocid) => store.dialects.signingFor(ocid),
    }),
  };
}
