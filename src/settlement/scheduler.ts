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
    this.timer = setTimeout(() => void this.pass(), 0);
  }

  /** Graceful shutdown: no new work, wait for in-flight attempts (each records its own outcome), give the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.inflight.values()]);
    this.gw.store.leases.releaseAll(this.owner);
    this.holding = false;
  }

  /** Started, not stopped, and its loop has run recently (a pass comes at least every 10 s): GET /readyz. */
  get alive(): boolean {
    return !this.stopped && Date.now() - this.lastPassAt < ALIVE_WITHIN_MS;
  }

  get holdsLease(): boolean {
    return this.holding;
  }

  private acquireLease(now: number): boolean {
    const { leases } = this.gw.store;
    const row = leases.schedulerLeaseHolder();
    const takeover = !!row && row.owner !== this.owner && (row.lease_until < now || ownerIsDeadLocalProcess(row.owner));
    const got = leases.takeSchedulerLease(this.owner, now + this.leaseSeconds, now, takeover);
    if (got && !this.holding) {
      this.gw.log.info("scheduler lease acquired", { owner: this.owner });
      this.releaseDeadLeases();
    }
    this.holding = got;
    return got;
  }

  private releaseDeadLeases(): void {
    const { leases } = this.gw.store;
    for (const table of LEASED_TABLES)
      for (const o of leases.owners(table))
        if (o !== this.owner && ownerIsDeadLocalProcess(o)) leases.releaseOwner(table, o);
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.timer = null;
    this.lastPassAt = Date.now();
    try {
      const now = this.gw.clock();
      if (this.acquireLease(now)) {
        // Value-moving work (settlement jobs, outbound p2p transfers) and webhook deliveries have separate pools.
        const freeJobs = this.concurrency - this.inFlight("job:") - this.inFlight("p2p:");
        if (freeJobs > 0)
          for (const job of this.claimJobs(now, freeJobs))
            this.track(`job:${job.id}`, runSettlementJob(this.gw, job, this.owner));
        const freeTransfers = this.concurrency - this.inFlight("job:") - this.inFlight("p2p:");
        if (freeTransfers > 0)
          for (const t of this.claim<P2pRow>("p2p_transfers", now, freeTransfers))
            this.track(`p2p:${t.id}`, runOutboundTransfer(this.gw, t, this.owner));
        const freeDeliveries = this.deliveryConcurrency - this.inFlight("dlv:");
        if (freeDeliveries > 0)
          for (const d of this.claimDeliveries(now, freeDeliveries)) {
            const attempt =
              d.kind === "event" ? deliverEvent(this.gw, d, this.owner) : deliverProof(this.gw, d, this.owner);
            this.track(`dlv:${d.id}`, attempt);
          }
      }
    } catch (e) {
      this.gw.log.error("scheduler pass failed", { error: String((e as Error)?.stack ?? e) });
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.wake();
      } else this.scheduleNext();
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
      .catch((e) => {
        this.gw.log.error("settlement work failed", { key, error: String((e as Error)?.stack ?? e) });
        // Leave it for a later pass (not at once: a fault that repeats must not spin), not stuck under our lease.
        this.gw.store.leases.releaseAfterFault(table, id, this.owner, this.gw.clock() + FAULT_RETRY_SECONDS);
      })
      .finally(() => {
        this.inflight.delete(key);
        this.wake();
      });
    this.inflight.set(key, done);
  }

  private claimJobs(now: number, limit: number): JobRow[] {
    return this.claim<JobRow>("jobs", now, limit);
  }

  private claimDeliveries(now: number, limit: number) {
    return this.claim<DeliveryRow & { kind: string; endpoint_id: string | null }>("deliveries", now, limit);
  }

  /**
   * Due rows whose lease is free or expired become ours for `jobLeaseSeconds`, in one conditional UPDATE. A row
   * still leased to this very scheduler is never re-claimed: a run longer than the lease (several 15 s steps) is
   * still in flight here, and every finished run clears its lease, failures included (see `track`).
   */
  private claim<Row>(table: LeasedTable, now: number, limit: number): Row[] {
    const { store } = this.gw;
    return store.tx(() => store.leases.claim<Row>(table, this.owner, now + this.jobLeaseSeconds, now, limit));
  }

  /** Sleep until the earliest due retry/deadline, but renew (or retry taking) the lease in time. */
  private scheduleNext(): void {
    if (this.stopped) return;
    const now = this.gw.clock();
    const next = this.gw.store.leases.nextDue();
    // §12.4: the lease is renewed three times per validity (every 10 s of 30 s); without it, retry each second.
    const renewIn = this.holding ? Math.max(1, Math.floor(this.leaseSeconds / RENEWALS_PER_LEASE)) : 1;
    const dueIn = next === null ? renewIn : Math.max(0, next - now);
    const seconds = Math.min(dueIn, renewIn);
    const floorMs = this.inflight.size ? BUSY_POLL_MS : 0;
    this.timer = setTimeout(() => void this.pass(), Math.max(seconds * MS_PER_SECOND, floorMs) || 1);
  }
}
