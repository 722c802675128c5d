// The store port's repositories on PostgreSQL (issue 18 item 1): one module per repository beside this one, each
// typed as exactly the port's repository (`Tx["orders"]` …), so the compiler proves the signatures and records
// match the SQLite ones (bigint money, the same field names, null where SQLite answers null). Statements are shared
// with SQLite where the dialects agree and Postgres's own where SQLite relied on its single writer or its dialect.
// `Missing` below names any repository not yet on Postgres (none now); postgres-statements.test.ts prints them.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { pgLedger } from "./ledger";
import { pgUsers } from "./users";
import { pgTokens } from "./tokens";
import { pgSessions } from "./sessions";
import { pgOrders } from "./orders";
import { pgJobs } from "./jobs";
import { pgDeliveries } from "./deliveries";
import { pgNonces } from "./nonces";
import { pgDirectory } from "./directory";
import { pgProofs } from "./proofs";
import { pgLeases } from "./leases";
import { pgAnomalies } from "./anomalies";
import { pgDialects, type DialectMemory } from "./dialects";
import { pgMerchants } from "./merchants";
import { pgIdempotency } from "./idempotency";
import { pgTopups } from "./topups";
import { pgPasskeys } from "./passkeys";
import { pgApiKeys } from "./api-keys";
import { pgAudit } from "./audit";
import { pgAdminIdempotency } from "./admin-idempotency";
import { pgLimits } from "./limits";
import { pgScans } from "./scans";
import { pgRefunds } from "./refunds";
import { pgP2pTransfers } from "./p2p-transfers";
import { pgEvents } from "./events";
import { pgKyc } from "./kyc";
import { pgEventOutbox } from "./event-outbox";
import { pgOrderQueries } from "./order-queries";
import { pgDeliveryQueries } from "./delivery-queries";
import { pgHistory } from "./history";
import { pgMetrics } from "./metrics";
import { pgP2pOutbound } from "./p2p-outbound";

/** The repositories the Postgres engine implements in full (one name a line: additions rebase cleanly). */
export const POSTGRES_REPOSITORIES = [
  "ledger",
  "users",
  "tokens",
  "sessions",
  "orders",
  "jobs",
  "deliveries",
  "nonces",
  "directory",
  "proofs",
  "leases",
  "anomalies",
  "dialects",
  "merchants",
  "idempotency",
  "topups",
  "passkeys",
  "apiKeys",
  "audit",
  "adminIdempotency",
  "limits",
  "scans",
  "refunds",
  "p2p",
  "events",
  "kyc",
  "eventOutbox",
  "orderQueries",
  "deliveryQueries",
  "history",
  "metrics",
  "p2pOutbound",
] as const satisfies readonly (keyof Tx)[];
type Complete = (typeof POSTGRES_REPOSITORIES)[number];

/** The port's repositories not yet on Postgres (none now). */
export type Missing = Exclude<keyof Tx, Complete>;

/** What the Postgres engine implements of the port today. */
export type PostgresTx = Pick<Tx, Complete>;

/** Per-process memory some repositories keep across transactions, as the SQLite ones do in their closures. */
export type PostgresMemory = { dialects: DialectMemory };
export const postgresMemory = (): PostgresMemory => ({ dialects: new Map() });

/** One transaction's repositories over `sql` (the transaction's connection). */
export function postgresRepositories(sql: SQL, memory: PostgresMemory = postgresMemory()): PostgresTx {
  return {
    ledger: pgLedger(sql),
    users: pgUsers(sql),
    tokens: pgTokens(sql),
    sessions: pgSessions(sql),
    orders: pgOrders(sql),
    jobs: pgJobs(sql),
    deliveries: pgDeliveries(sql),
    nonces: pgNonces(sql),
    directory: pgDirectory(sql),
    proofs: pgProofs(sql),
    leases: pgLeases(sql),
    anomalies: pgAnomalies(sql),
    dialects: pgDialects(sql, memory.dialects),
    merchants: pgMerchants(sql),
    idempotency: pgIdempotency(sql),
    topups: pgTopups(sql),
    passkeys: pgPasskeys(sql),
    apiKeys: pgApiKeys(sql),
    audit: pgAudit(sql),
    adminIdempotency: pgAdminIdempotency(sql),
    limits: pgLimits(sql),
    scans: pgScans(sql),
    refunds: pgRefunds(sql),
    p2p: pgP2pTransfers(sql),
    events: pgEvents(sql),
    kyc: pgKyc(sql),
    eventOutbox: pgEventOutbox(sql),
    orderQueries: pgOrderQueries(sql),
    deliveryQueries: pgDeliveryQueries(sql),
    history: pgHistory(sql),
    metrics: pgMetrics(sql),
    p2pOutbound: pgP2pOutbound(sql),
  };
}
