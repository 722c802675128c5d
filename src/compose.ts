// Composition: builds every dependency of a running gateway once (start-up calls it; src/gateway.ts is its type).
import type { Gateway, GatewayParts } from "./gateway";
import { buildCurrencyTable } from "./protocol/currencies";
import { buildMetadataDocument } from "./protocol/metadata";
import { RateLimiter } from "./http/rate-limit";
import { Directory, selfMetadata } from "./peers/directory";
import { PeerClient } from "./peers/client";
import { parseAllowlist } from "./peers/ssrf";
import type { Observed, ObservedIn } from "./store/dialects";
import type { Tx } from "./store";
import { Hub } from "./app/hub";
import { inlineVerifier } from "./verify-pool";
import { localUserMetadata } from "./flows/end-user-ocid";
import { parseTiers } from "./domain/tiers";

export function buildGateway(parts: GatewayParts): Gateway {
  const { config, key, store, clock, log } = parts;
  const currencies = buildCurrencyTable(config.currencies.extra);
  for (const c of config.currencies.enabled)
    if (!currencies.has(c))
      throw new Error(`currencies.enabled: ${c} is not in the currency table (add it to currencies.extra)`);
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
  // Off the request's path: its own small transaction, only when this process has not just recorded the same one.
  // The memo is per node (README "Per-node state"): the record is in the database; each node writes a change once.
  const lastObserved = new Map<number, string>();
  const observeDialect = (ocid: number, d: Observed, what: ObservedIn) => {
    const seen = `${d.encoding}|${d.hash}|${d.form ?? ""}`;
    if (lastObserved.get(ocid) === seen) return;
    lastObserved.set(ocid, seen);
    store
      .transaction((tx) => tx.dialects.observe(ocid, d, what, clock()))
      .then(
        (changed) => changed && log.info("peer signature dialect", { ocid, what, ...d }),
        (e) => {
          lastObserved.delete(ocid);
          log.warn("peer signature dialect not recorded", { ocid, what, error: String(e) });
        },
      );
  };
  const recordNonceIn = (tx: Tx, ocid: number, nonce: string, now: number) =>
    tx.nonces.record(ocid, nonce, now, config.authWindow);
  const directory = new Directory({
    store,
    clock,
    log,
    allowlist,
    self: selfMetadata(
      config.ocid,
      config.name,
      key.publicKeyHex,
      config.endpoint,
      config.currencies.enabled,
      config.acceptIssuers,
    ),
    configEntries: config.directory.entries,
    freshTtl: config.metadataTtl,
    acceptReplacer: config.acceptReplacerCanonical,
    evm: rpcUrl && registryAddress ? { rpcUrl, registryAddress } : undefined,
    fetchImpl: parts.fetchImpl,
    onConfigDialect: (ocid, d) => observeDialect(ocid, d, "config"),
    local: (tx, ocid) => localUserMetadata({ config, key }, tx, ocid),
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
    signer: {
      ocid: config.ocid,
      secret: key.secret,
      clock,
      offThread: verifier.signsOffThread ? (d, sk) => verifier.signDigest(d, sk) : undefined,
    },
    limiter: new RateLimiter(clock),
    allowlist,
    trustedProxies: parseAllowlist(config.trustedProxies),
    directory,
    auth: {
      directory,
      clock,
      window: config.authWindow,
      basePath: config.basePath,
      recordNonce: (ocid, nonce, now) => store.transaction((tx) => recordNonceIn(tx, ocid, nonce, now)),
      recordNonceIn,
      verifier,
      observeDialect: (ocid, d) => observeDialect(ocid, d, "request"),
    },
    verifier,
    store,
    observeDialect,
    hub: new Hub((hashes) => store.read((tx) => tx.tokens.liveHashes(hashes, clock()))),
    events: { settlementEnqueued: () => {}, deliveryEnqueued: () => {} },
    peers: new PeerClient({
      ocid: config.ocid,
      secret: key.secret,
      clock,
      directory,
      allowlist,
      window: config.authWindow,
      fetchImpl: parts.fetchImpl,
      dialectFor: (ocid) => store.read((tx) => tx.dialects.signingFor(ocid)),
    }),
  };
}
