// Everything a request or job needs, built once at start-up (src/compose.ts) and passed down explicitly. This file is
// only the type, so every layer may name it without importing what builds it.
import type { Config } from "./config";
import type { Clock } from "./clock";
import type { Logger } from "./log";
import type { GatewayKey } from "./keyfile";
import type { CurrencyTable } from "./protocol/currencies";
import type { MetadataDocument } from "./protocol/schemas";
import type { ResponseSigner } from "./http/responses";
import type { RateLimiter } from "./http/rate-limit";
import type { AuthDeps } from "./http/auth";
import type { Directory } from "./peers/directory";
import type { PeerClient } from "./peers/client";
import type { Allowlist } from "./peers/ssrf";
import type { PortStore } from "./store";
import type { Observed, ObservedIn } from "./store/dialects";
import type { DeliveryRow } from "./store/deliveries";
import type { Hub } from "./app/hub";
import type { Verifier } from "./verify-pool";
import type { Tier } from "./domain/tiers";

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
  /** The store port only (src/store/index.ts PortStore): every read and change through read/transaction. */
  store: PortStore;
  hub: Hub;
  verifier: Verifier;
  /** Records the dialect a peer's signature just verified in (issue 12). */
  observeDialect: (ocid: number, d: Observed, what: ObservedIn) => void;
  /** Hooks the scheduler binds to so committed work starts at once (no polling on the hot path). */
  events: {
    settlementEnqueued: () => void;
    deliveryEnqueued: () => void;
    /** A delivery a settlement run of this node's scheduler queued leased to it (effects.ts runDelivery). */
    deliveryLeased?: (row: DeliveryRow) => void;
  };
};

export type GatewayParts = {
  config: Config;
  store: PortStore;
  key: GatewayKey;
  clock: Clock;
  log: Logger;
  fetchImpl?: typeof fetch;
  verifier?: Verifier;
};
