// §12.4 in-process scheduler over the durable outbox (issue 18 item 2: one of these on every node). Event-driven:
// committed work wakes it at once; a timer exists only for retries, deadlines, other nodes' work and lease renewal.
// There is no global lease: every pass claims due jobs, deliveries and outbound transfers in batches, each row with
// its own lease (SKIP LOCKED and the database clock on Postgres: src/store/postgres/claims.ts), renewed every third
// of its length while its run is in flight; a run whose renewal fails stops, and every write it makes is fenced
// by the lease (./run-lease.ts). A node that dies loses its leases by expiry; one that restarts under the same
// node id gives up its previous incarnations' leases at once (the id is held while it runs: store.holdNode).
import type { Gateway } from "../gateway";
import type { JobRow } from "../store/jobs";
import type { DeliveryRow } from "../store/deliveries";
import { runSettlementJob } from "./settle-job";
import { deliverProof } from "./deliver-proof";
import { runOutboundTransfer } from "./p2p-send";
import type { P2pRow } from "../store/p2p-transfers";
import { deliverEvent } from "./deliver-event";
import { LEASED_TABLES, nodePrefix, type LeasedTable } from "../store/leases";
import type { NodeHold } from "../store/port";
import type { Tx } from "../store";
import type { OrderRecord } from "../store/orders";
import { LeaseLost, nodeIdOf, PROCESS_MARK, RunLease, schedulerOwner } from "./run-lease";

type ClaimedDelivery = DeliveryRow & { kind: string; endpointId: string | null };
/** What one pass's transaction decided: the rows now ours and when work is due next. */
type PassClaims = {
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
 * a hanging merchant held a settlement back 18.4 s). `leaseSeconds`: an idle pass every third of it (the former
 * global lease's length). `nodeId`: see config `nodeId`. `renew: false` is for tests only: the control that shows
 * a run longer than its lease loses its row without renewal.
 */
export type SchedulerOptions = {
  leaseSeconds?: number;
  jobLeaseSeconds?: number;
  concurrency?: number;
  deliveryConcurrency?: number;
  nodeId?: string;
  renew?: boolean;
};

/** §12.4: an idle pass every 10 s; a claimed job or delivery is ours for 60 s, renewed every 20 s while it runs. */
const IDLE_LEASE_SECONDS = 30;
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
type KeyPrefix = keyof typeof TABLE_OF;

export class Scheduler {
  readonly nodeId: string;
  /** This scheduler's lease owner, `<nodeId>:<incarnation>:<random>`. */
  readonly owner: string;
  private readonly idleSeconds: number;
  private readonly jobLeaseSeconds: number;
  private readonly concurrency: number;
  private readonly deliveryConcurrency: number;
  private readonly renews: boolean;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private renewer: ReturnType<typeof setInterval> | null = null;
  private holdWatch: ReturnType<typeof setInterval> | null = null;
  /** A pass asked for by `wake`, on the next turn of the event loop. */
  private soon: ReturnType<typeof setImmediate> | null = null;
  private running = false;
  private again = false;
  private stopped = true;
  private inflight = new Map<string, { done: Promise<unknown>; lease: RunLease }>();
  private hold: NodeHold | null = null;
  private lastPassAt = 0;

  constructor(
    private readonly gw: Gateway,
    opts: SchedulerOptions = {},
  ) {
    this.idleSeconds = Math.max(1, Math.floor((opts.leaseSeconds ?? IDLE_LEASE_SECONDS) / RENEWALS_PER_LEASE));
    this.jobLeaseSeconds = opts.jobLeaseSeconds ?? ROW_LEASE_SECONDS;
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    this.deliveryConcurrency = opts.deliveryConcurrency ?? DEFAULT_CONCURRENCY;
    this.renews = opts.renew ?? true;
    this.nodeId = opts.nodeId ?? nodeIdOf(gw.config);
    this.owner = schedulerOwner(this.nodeId);
  }

  /**
   * Holds the node id (refused with a ConfigError while another live node has it: Postgres), gives up the leases
   * of this node's previous incarnations (a crash restart resumes at once), then runs passes.
   */
  async start(): Promise<void> {
    const hold = await this.gw.store.holdNode(this.nodeId);
    const stale = hold.wholeDatabase ? "" : nodePrefix(this.nodeId);
    const released = await this.gw.store
      .transaction((tx) => tx.leases.releaseStale(stale, PROCESS_MARK))
      .catch(async (e) => {
        await hold.release();
        throw e;
      });
    this.hold = hold;
    if (released) this.gw.log.info("leases of a previous run released", { node: this.nodeId, rows: released });
    this.stopped = false;
    this.lastPassAt = Date.now();
    this.gw.events.settlementEnqueued = () => this.wake();
    this.gw.events.deliveryEnqueued = () => this.wake();
    this.gw.events.deliveryLeased = (row) => this.adopt(row);
    if (this.renews)
      this.renewer = setInterval(() => void this.renew(), (this.jobLeaseSeconds * MS_PER_SECOND) / RENEWALS_PER_LEASE);
    this.holdWatch = setInterval(() => void this.checkHold(), this.idleSeconds * MS_PER_SECOND);
    this.wake();
  }

  /**
   * Whether the node id is still this node's (checked every idle interval). Two live processes under one id would
   * each take the other's leases for a previous incarnation's, so a node whose id was taken while it ran (its lock's
   * connection dropped, and another node started under the id) stops claiming at once and reports not alive.
   */
  async checkHold(): Promise<boolean> {
    if (!this.hold || this.stopped) return false;
    try {
      if (await this.hold.stillHeld()) return true;
    } catch (e) {
      this.gw.log.warn("node id check failed (database unreachable): asked again later", { error: String(e) });
      return true;
    }
    this.gw.log.error("node id taken by another gateway while this one ran: no more work is claimed here", {
      node: this.nodeId,
    });
    this.halt();
    return false;
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

  /** Graceful shutdown: no new work, wait for in-flight attempts (each records its own outcome), give leases up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    // Renewal goes on until the runs are done: a graceful stop must not lose a row a run is still writing.
    await Promise.allSettled([...this.inflight.values()].map((r) => r.done));
    if (this.renewer) clearInterval(this.renewer);
    if (this.holdWatch) clearInterval(this.holdWatch);
    this.renewer = this.holdWatch = null;
    await this.gw.store.transaction((tx) => tx.leases.releaseAll(this.owner));
    await this.hold?.release();
    this.hold = null;
  }

  /**
   * Stops the loop and the renewals at once and gives nothing up: what a node that dies leaves in the database (its
   * rows go to other nodes when their leases expire). For a shutdown that cannot reach the database, and for tests.
   */
  halt(): void {
    this.stopped = true;
    for (const t of [this.timer, this.renewer, this.holdWatch]) if (t) clearTimeout(t);
    if (this.soon) clearImmediate(this.soon);
    this.timer = this.renewer = this.holdWatch = this.soon = null;
  }

  /** Started, not stopped, and its loop has run recently (a pass comes at least every 10 s): GET /readyz. */
  get alive(): boolean {
    return !this.stopped && Date.now() - this.lastPassAt < ALIVE_WITHIN_MS;
  }

  /**
   * One transaction per pass: the claims of every pool and the next due moment (the runs start after its commit:
   * each makes its own short transactions around its network calls).
   */
  private claimAll(now: number): Promise<PassClaims> {
    // Value-moving work (settlement jobs, outbound p2p transfers) and webhook deliveries have separate pools.
    const freeJobs = this.concurrency - this.inFlight("job:") - this.inFlight("p2p:");
    const freeDeliveries = this.deliveryConcurrency - this.inFlight("dlv:");
    return this.gw.store.transaction(async (tx): Promise<PassClaims> => {
      const jobs = freeJobs > 0 ? await this.claim<JobRow>(tx, "jobs", now, freeJobs) : [];
      const orders = new Map<string, OrderRecord | null>();
      for (const job of jobs) orders.set(job.id, await tx.orders.byId(job.orderId));
      const freeTransfers = freeJobs - jobs.length;
      const transfers = freeTransfers > 0 ? await this.claim<P2pRow>(tx, "p2p_transfers", now, freeTransfers) : [];
      const deliveries =
        freeDeliveries > 0 ? await this.claim<ClaimedDelivery>(tx, "deliveries", now, freeDeliveries) : [];
      return { jobs, orders, transfers, deliveries, nextDue: await tx.leases.nextDue() };
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
      nextDue = claims.nextDue;
      for (const job of claims.jobs)
        this.track("job:", job.id, (l) => runSettlementJob(this.gw, job, l, claims.orders.get(job.id) ?? null));
      for (const t of claims.transfers) this.track("p2p:", t.id, (l) => runOutboundTransfer(this.gw, t, l));
      for (const d of claims.deliveries)
        this.track("dlv:", d.id, (l) =>
          d.kind === "event" ? deliverEvent(this.gw, d, l) : deliverProof(this.gw, d, l),
        );
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

  private inFlight(prefix: KeyPrefix): number {
    let n = 0;
    for (const k of this.inflight.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  /**
   * A proof delivery one of our settlement runs queued leased to us (RunLease.keepDeliverySeconds): it runs now when
   * the delivery pool has room; else its lease is given up, due at once, for a pass to claim like any other.
   */
  private adopt(d: DeliveryRow): void {
    if (!this.stopped && this.inFlight("dlv:") < this.deliveryConcurrency && !this.inflight.has("dlv:" + d.id)) {
      this.track("dlv:", d.id, (l) => deliverProof(this.gw, d, l));
      return;
    }
    const now = this.gw.clock();
    void this.gw.store
      .transaction((tx) => tx.leases.releaseAfterFault("deliveries", d.id, this.owner, now))
      .then(
        () => this.wake(),
        (e) => this.gw.log.error("giving up a delivery's lease failed", { id: d.id, error: String(e) }),
      );
  }

  /** Starts the run of a claimed row (never one already in flight here: the claim leaves those out). */
  private track(prefix: KeyPrefix, id: string, run: (lease: RunLease) => Promise<unknown>): void {
    const key = prefix + id;
    const table = TABLE_OF[prefix];
    // A settlement run keeps the delivery it queues (adopt): its webhook needs no pass of its own.
    const lease = new RunLease(table, id, this.owner, prefix === "job:" ? this.jobLeaseSeconds : null);
    const done = Promise.resolve()
      .then(() => run(lease))
      .catch(async (e) => {
        if (e instanceof LeaseLost) {
          // Another node may run it now; nothing of this run's last transaction committed.
          this.gw.log.warn("lease lost: run stopped", { key });
          return;
        }
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
    this.inflight.set(key, { done, lease });
  }

  /**
   * Due rows whose lease is free or expired become ours for `jobLeaseSeconds`, in one conditional UPDATE; never a
   * row whose run is in flight here (its lease lapsed: that run is lost, and another pass takes the row once it ends).
   */
  private async claim<Row>(tx: Tx, table: LeasedTable, now: number, limit: number): Promise<Row[]> {
    const running = [...this.inflight.values()].filter((r) => r.lease.table === table).map((r) => r.lease.id);
    return (await tx.leases.claim(table, this.owner, now + this.jobLeaseSeconds, now, limit, running)) as Row[];
  }

  /**
   * Every third of the row lease: the leases of the runs in flight are extended, one statement per table; a run
   * whose row is no longer validly ours is marked lost (it stops before its next call and its writes are fenced).
   */
  private async renew(): Promise<void> {
    if (this.inflight.size === 0) return;
    const runs = [...this.inflight.values()].map((r) => r.lease);
    try {
      const now = this.gw.clock();
      const kept = await this.gw.store.transaction(async (tx) => {
        const ids = new Set<string>();
        for (const table of LEASED_TABLES) {
          const mine = runs.filter((l) => l.table === table).map((l) => l.id);
          for (const id of await tx.leases.renew(table, this.owner, mine, now + this.jobLeaseSeconds, now))
            ids.add(`${table}/${id}`);
        }
        return ids;
      });
      for (const l of runs)
        if (!kept.has(`${l.table}/${l.id}`) && !l.lost) {
          l.lose();
          this.gw.log.warn("lease lost while running", { table: l.table, id: l.id });
        }
    } catch (e) {
      // The database is unreachable: the runs' own fenced writes decide; renewal tries again next time.
      this.gw.log.warn("lease renewal failed", { error: String(e) });
    }
  }

  /** Sleep until the earliest due retry/deadline/lease end (`next`, read by the pass), at most the idle interval. */
  private scheduleNext(next: number | null): void {
    if (this.stopped) return;
    const now = this.gw.clock();
    const dueIn = next === null ? this.idleSeconds : Math.max(0, next - now);
    const seconds = Math.min(dueIn, this.idleSeconds);
    const floorMs = this.inflight.size ? BUSY_POLL_MS : 0;
    this.timer = setTimeout(() => void this.pass(), Math.max(seconds * MS_PER_SECOND, floorMs) || 1);
  }
}
