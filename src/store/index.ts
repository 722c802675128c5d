import type { Database } from "bun:sqlite";
import { ledger } from "./ledger";
import { users } from "./users";
import { tokens } from "./tokens";
import { passkeys } from "./passkeys";
import { sessions } from "./sessions";
import { orders } from "./orders";
import { jobs } from "./jobs";
import { deliveries } from "./deliveries";
import { scans } from "./scans";
import { merchantSnapshots } from "./merchant-snapshot";
import { dialects } from "./dialects";
import { inTransaction } from "./db";
import { apiKeys } from "./api-keys";
import { audit } from "./audit";
import { adminIdempotency } from "./admin-idempotency";
import { limits } from "./limits";
import { refunds } from "./refunds";
import { p2pTransfers } from "./p2p-transfers";
import { events } from "./events";
import { kyc } from "./kyc";
import { directory } from "./directory";
import { topups } from "./topups";
import { idempotency } from "./idempotency";
import { nonces } from "./nonces";
import { eventOutbox } from "./event-outbox";
import { anomalies } from "./anomalies";
import { orderQueries } from "./order-queries";
import { deliveryQueries } from "./delivery-queries";
import { history } from "./history";
import { metrics } from "./metrics";
import { probeWrite } from "./data-dir";
import { backupDatabase, type BackupCheck } from "./backup";
import { leases } from "./leases";
import { p2pOutbound } from "./p2p-outbound";
import { proofs } from "./proofs";

/** Prepared statements grouped by what they are about; built once per database. */
export function createStore(db: Database) {
  return {
    ledger: ledger(db),
    users: users(db),
    tokens: tokens(db),
    passkeys: passkeys(db),
    sessions: sessions(db),
    orders: orders(db),
    jobs: jobs(db),
    deliveries: deliveries(db),
    apiKeys: apiKeys(db),
    audit: audit(db),
    adminIdempotency: adminIdempotency(db),
    limits: limits(db),
    scans: scans(db),
    merchants: merchantSnapshots(db),
    refunds: refunds(db),
    dialects: dialects(db),
    p2p: p2pTransfers(db),
    events: events(db),
    kyc: kyc(db),
    directory: directory(db),
    topups: topups(db),
    idempotency: idempotency(db),
    nonces: nonces(db),
    eventOutbox: eventOutbox(db),
    anomalies: anomalies(db),
    orderQueries: orderQueries(db),
    deliveryQueries: deliveryQueries(db),
    history: history(db),
    metrics: metrics(db),
    /** A real write (readiness): a database that only reads must never look healthy. */
    probeWrite: (): void => probeWrite(db),
    /** `oc backup`: a consistent snapshot into a new file while the gateway serves, then checked. */
    backupInto: (target: string): BackupCheck => backupDatabase(db, target),
    close: (): void => db.close(),
    leases: leases(db),
    p2pOutbound: p2pOutbound(db),
    proofs: proofs(db),
    tx: <T>(fn: () => T): T => inTransaction(db, fn),
    /** A transaction that rolls back and yields null when `fn` throws `abort` (a lost race, not a fault). */
    txUnless: <T>(abort: new (...a: never[]) => Error, fn: () => T): T | null => {
      try {
        return inTransaction(db, fn);
      } catch (e) {
        if (e instanceof abort) return null;
        throw e;
      }
    },
  };
}
export type Store = ReturnType<typeof createStore>;
