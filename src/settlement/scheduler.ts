// §12.4 in-process scheduler over the durable outbox. Event-driven: committed work wakes it at once; a timer
// exists only for retries, deadlines and lease renewal. One process per database runs jobs (the global lease),
// each job/delivery is claimed with its own lease, and everything resumes from SQLite after a restart.
import { hostname } from "node:os";
import type { Gateway } from "../gateway";
import { randomHex } from "../protocol/hex";
import type { JobRow } from "../store/jobs";
import type { DeliveryRow } from "../store/deliveries";
import { runSettlementJob } from "./settle-job";
import { deliverProof } from "./deliver-proof";
import { runOutboundTransfer } from "./p2p-send";
import type { P2pRow } from "../store/p2p-transfers";
import { deliverEvent } from "./deliver-event";
import { LEASED_TABLES, type LeasedTable } from "../store/leases";
import type { Tx } from "../store";
import type { OrderRecord } from "../store/orders";

type ClaimedDelivery = DeliveryRow & { kind: string; endpoint_id: string | null };
/** What one pass's transaction decided: whether we hold the lease, the rows now ours, when work is due next. */
type PassClaims = {
  held: boolean;
  acquired: boolean;
  jobs: JobRow[];
  /** Each claimed job's order, read in the claiming transaction (the run needs it first). */
  orders: Map<string, OrderRecord | null>;
  transfers: P2pRow[];
  deliveries: ClaimedDelivery[];
  nextDue: number | null;
};

/** A run that threw is due again after this long (not at once: a fault that repeats must not spin). */
const FAULT_RETRY_SECONDS = 5;

/**
 * `concurrency`: settlement jobs in flight; `deliveryConcurrency`: webhook deliveries in flight. Separate pools, so
 * proofs queued for a hanging webhook never delay an unrelated settlement (they shared 16 slots: 40 deliveries to
 * a hanging merchant held a settlement back 18.4 s).
 */
export type SchedulerOptions = {
  leaseSeconds?: number;
  jobLeaseSeconds?: number;
  concurrency?: number;
  deliveryConcurrency?: number;
};

const HOST = hostname();
/** §12.4: the scheduler lease is valid 30 s (renewed every 10 s); a claimed job or delivery is ours for 60 s. */
const SCHEDULER_LEASE_SECONDS = 30;
const RENEWALS_PER_LEASE = 3;
const ROW_LEASE_SECONDS = 60;
const DEFAULT_CONCURRENCY = 16;
/** GET /readyz: a pass comes at least every 10 s, so none for 35 s means the loop is stuck. */
const ALIVE_WITHIN_MS = 35_000;
/** While attempts are in flight, the next pass is at least this far off (their completion wakes it anyway). */
const BUSY_POLL_MS = 50;
const MS_PER_SECOND = 1000;
/** In-flight work is keyed `<prefix><row id>`, the prefix naming the table its lease is in. */
const TABLE_OF = { "job:": "jobs", "p2p:": "p2p_transfers", "dlv:": "deliveries" } as const satisfies Record<
  string,
  LeasedTable
>;
const KEY_PREFIX_LENGTH = 4;
/** Two schedulers in one process (tests) still have distinct owners. */
const OWNER_SUFFIX_BYTES = 4;

/** A lease held by a process on this host that no longer exists can be taken over at once (crash recovery). */
function ownerIsDeadLocalProcess(owner: string): boolean {
  const [host, pid] = owner.split(":");
  if (host !== HOST || !pid || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export class Scheduler {
  readonly owner = `${HOST}:${process.pid}:${randomHex(OWNER_SUFFIX_BYTES)}`;
  private readonly leaseSeconds: number;
  private readonly jobLeaseSeconds: number;
  private readonly concurrency: number;
  private readonly deliveryConcurrency: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** A pass asked for by `wake`, on the next turn of the event loop. */
  private soon: ReturnType<typeof setImmediate> | null = null;
  private running = false;
  private again = false;
  private stopped = true;
  private inflight = new Map<string, Promise<unknown>>();
  private holding = false;
  private lastPassAt = 0;

  constructor(
    private readonly gw: Gateway,
    opts: SchedulerOptions = {},
  ) {
    this.leaseSeconds = opts.leaseSeconds ?? SCHEDULER_LEASE_SECONDS;
    this.jobLeaseSeconds = opts.jobLeaseSeconds ?? ROW_LEASE_SECONDS;
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    this.deliveryConcurrency = opts.deliveryConcurrency ?? DEFAULT_CONCURRENCY;
  }

  start(): void {
    this.stopped = false;
    this.lastPassAt = Date.now();
    this.gw.events.settlementEnqueued = () => this.wake();
    this.gw.events.deliveryEnqueued = () => this.wake();
    this.wake();
  }

  /** Runs a pass soon; calls during a pass schedule exactly one more. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Not setTimeout(0): Bun clamps it to about 1 ms, and a payment waits for two wakes between its confirm and
    // its webhook (the settlement, then the delivery), measured as ~1.1 ms gaps each.
    this.soon ??= setImmediate(() => {
      this.soon = null;
      void this.pass();
    });
  }

  /** Graceful shutdown: no new work, wait for in-flight attempts (each records its own outcome), give the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    await Promise.allSettled([...this.inflight.values()]);
    await this.gw.store.transaction((tx) => tx.leases.releaseAll(this.owner));
    this.holding = false;
  }

  /** Started, not stopped, and its loop has run recently (a pass comes at least every 10 s): GET /readyz. */
  get alive(): boolean {
    return !this.stopped && Date.now() - this.lastPassAt < ALIVE_WITHIN_MS;
  }

  get holdsLease(): boolean {
    return this.holding;
  }

  /** Inside the pass's transaction: the global lease is ours when free, expired, ours already, or a dead holder's. */
  private async acquireLease(tx: Tx, now: number): Promise<{ held: boolean; acquired: boolean }> {
    const row = await tx.leases.schedulerLeaseHolder();
    const takeover = !!row && row.owner !== this.owner && (row.lease_until < now || ownerIsDeadLocalProcess(row.owner));
    const held = await tx.leases.takeSchedulerLease(this.owner, now + this.leaseSeconds, now, takeover);
    const acquired = held && !this.holding;
    if (acquired) await this.releaseDeadLeases(tx);
    return { held, acquired };
  }

  private async releaseDeadLeases(tx: Tx): Promise<void> {
    for (const table of LEASED_TABLES)
      for (const o of await tx.leases.owners(table))
        if (o !== this.owner && ownerIsDeadLocalProcess(o)) await tx.leases.releaseOwner(table, o);
  }

  /**
   * One transaction per pass: the lease, the claims of every pool and the next due moment (the runs start after
   * its commit: each makes its own short transactions around its network calls).
   */
  private claimAll(now: number): Promise<PassClaims> {
    // Value-moving work (settlement jobs, outbound p2p transfers) and webhook deliveries have separate pools.
    const freeJobs = this.concurrency - this.inFlight("job:") - this.inFlight("p2p:");
    const freeDeliveries = this.deliveryConcurrency - this.inFlight("dlv:");
    return this.gw.store.transaction(async (tx): Promise<PassClaims> => {
      const lease = await this.acquireLease(tx, now);
      const none = { jobs: [], orders: new Map(), transfers: [], deliveries: [] };
      if (!lease.held) return { ...lease, ...none, nextDue: await tx.leases.nextDue() };
      const jobs = freeJobs > 0 ? await this.claim<JobRow>(tx, "jobs", now, freeJobs) : [];
      const orders = new Map<string, OrderRecord | null>();
      for (const job of jobs) orders.set(job.id, await tx.orders.byId(job.order_id));
      const freeTransfers = freeJobs - jobs.length;
      const transfers = freeTransfers > 0 ? await this.claim<P2pRow>(tx, "p2p_transfers", now, freeTransfers) : [];
      const deliveries =
        freeDeliveries > 0 ? await this.claim<ClaimedDelivery>(tx, "deliveries", now, freeDeliveries) : [];
      return { ...lease, jobs, orders, transfers, deliveries, nextDue: await tx.leases.nextDue() };
    });
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.timer = null;
    this.lastPassAt = Date.now();
    let nextDue: number | null = null;
    try {
      const claims = await this.claimAll(this.gw.clock());
      this.holding = claims.held;
      nextDue = claims.nextDue;
      if (claims.acquired) this.gw.log.info("scheduler lease acquired", { owner: this.owner });
      for (const job of claims.jobs)
        this.track(`job:${job.id}`, runSettlementJob(this.gw, job, this.owner, claims.orders.get(job.id) ?? null));
      for (const t of claims.transfers) this.track(`p2p:${t.id}`, runOutboundTransfer(this.gw, t, this.owner));
      for (const d of claims.deliveries) {
        const attempt =
          d.kind === "event" ? deliverEvent(this.gw, d, this.owner) : deliverProof(this.gw, d, this.owner);
        this.track(`dlv:${d.id}`, attempt);
      }
    } catch (e) {
      this.gw.log.error("scheduler pass failed", { error: String((e as Error)?.stack ?? e) });
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.wake();
      } else this.scheduleNext(nextDue);
    }
  }

  private inFlight(prefix: "job:" | "dlv:" | "p2p:"): number {
    let n = 0;
    for (const k of this.inflight.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  private track(key: string, p: Promise<unknown>): void {
    const table = TABLE_OF[key.slice(0, KEY_PREFIX_LENGTH) as keyof typeof TABLE_OF];
    const id = key.slice(KEY_PREFIX_LENGTH);
    const done = p
      .catch(async (e) => {
        this.gw.log.error("settlement work failed", { key, error: String((e as Error)?.stack ?? e) });
        // Leave it for a later pass (not at once: a fault that repeats must not spin), not stuck under our lease.
        const at = this.gw.clock() + FAULT_RETRY_SECONDS;
        await this.gw.store.transaction((tx) => tx.leases.releaseAfterFault(table, id, this.owner, at));
      })
      .catch((e) => this.gw.log.error("lease release after a fault failed", { key, error: String(e) }))
      .finally(() => {
        this.inflight.delete(key);
        this.wake();
      });
    this.inflight.set(key, done);
  }

  /**
   * Due rows whose lease is free or expired become ours for `jobLeaseSeconds`, in one conditional UPDATE. A row
   * still leased to this very scheduler is never re-claimed: a run longer than the lease (several 15 s steps) is
   * still in flight here, and every finished run clears its lease, failures included (see `track`).
   */
  private async claim<Row>(tx: Tx, table: LeasedTable, now: number, limit: number): Promise<Row[]> {
    return (await tx.leases.claim(table, this.owner, now + this.jobLeaseSeconds, now, limit)) as Row[];
  }

  /** Sleep until the earliest due retry/deadline (`next`, read by the pass), but renew the lease in time. */
  private scheduleNext(next: number | null): void {
    if (this.stopped) return;
    const now = this.gw.clock();
    // §12.4: the lease is renewed three times per validity (every 10 s of 30 s); without it, retry each second.
    const renewIn = this.holding ? Math.max(1, Math.floor(this.leaseSeconds / RENEWALS_PER_LEASE)) : 1;
    const dueIn = next === null ? renewIn : Math.max(0, next - now);
    const seconds = Math.min(dueIn, renewIn);
    const floorMs = this.inflight.size ? BUSY_POLL_MS : 0;
    this.timer = setTimeout(() => void this.pass(), Math.max(seconds * MS_PER_SECOND, floorMs) || 1);
  }
}
