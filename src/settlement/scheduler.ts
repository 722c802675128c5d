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

/**
 * `concurrency`: settlement jobs in flight; `deliveryConcurrency`: webhook deliveries in flight. Separate pools, so
 * proofs queued for a hanging webhook never delay an unrelated settlement (they shared 16 slots: 40 deliveries to
 * a hanging merchant held a settlement back 18.4 s).
 */
export type SchedulerOptions = { leaseSeconds?: number; jobLeaseSeconds?: number; concurrency?: number; deliveryConcurrency?: number };

const HOST = hostname();

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
  readonly owner = `${HOST}:${process.pid}:${randomHex(4)}`;
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

  constructor(private readonly gw: Gateway, opts: SchedulerOptions = {}) {
    this.leaseSeconds = opts.leaseSeconds ?? 30;
    this.jobLeaseSeconds = opts.jobLeaseSeconds ?? 60;
    this.concurrency = opts.concurrency ?? 16;
    this.deliveryConcurrency = opts.deliveryConcurrency ?? 16;
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
    const { db } = this.gw;
    db.query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?").run(this.owner);
    db.query("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?").run(this.owner);
    db.query("UPDATE p2p_transfers SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?").run(this.owner);
    db.query("DELETE FROM scheduler_lease WHERE name = 'settlement' AND owner = ?").run(this.owner);
    this.holding = false;
  }

  /** Started, not stopped, and its loop has run recently (a pass comes at least every 10 s): GET /readyz. */
  get alive(): boolean {
    return !this.stopped && Date.now() - this.lastPassAt < 35_000;
  }

  get holdsLease(): boolean {
    return this.holding;
  }

  private acquireLease(now: number): boolean {
    const { db } = this.gw;
    const row = db.query<{ owner: string; lease_until: number }, []>("SELECT owner, lease_until FROM scheduler_lease WHERE name = 'settlement'").get();
    const takeover = row && row.owner !== this.owner && (row.lease_until < now || ownerIsDeadLocalProcess(row.owner));
    const got =
      db
        .query(
          `INSERT INTO scheduler_lease (name, owner, lease_until) VALUES ('settlement', ?1, ?2)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
           WHERE scheduler_lease.owner = ?1 OR scheduler_lease.lease_until < ?3 OR ?4`,
        )
        .run(this.owner, now + this.leaseSeconds, now, takeover ? 1 : 0).changes === 1;
    if (got && !this.holding) {
      this.gw.log.info("scheduler lease acquired", { owner: this.owner });
      this.releaseDeadLeases();
    }
    this.holding = got;
    return got;
  }

  private releaseDeadLeases(): void {
    const { db } = this.gw;
    for (const table of ["jobs", "deliveries", "p2p_transfers"]) {
      const owners = db.query<{ o: string }, []>(`SELECT DISTINCT lease_owner AS o FROM ${table} WHERE lease_owner IS NOT NULL`).all();
      for (const { o } of owners)
        if (o !== this.owner && ownerIsDeadLocalProcess(o))
          db.query(`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`).run(o);
    }
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
        if (freeJobs > 0) for (const job of this.claimJobs(now, freeJobs)) this.track(`job:${job.id}`, runSettlementJob(this.gw, job, this.owner));
        const freeTransfers = this.concurrency - this.inFlight("job:") - this.inFlight("p2p:");
        if (freeTransfers > 0)
          for (const t of this.claim<P2pRow>("p2p_transfers", now, freeTransfers)) this.track(`p2p:${t.id}`, runOutboundTransfer(this.gw, t, this.owner));
        const freeDeliveries = this.deliveryConcurrency - this.inFlight("dlv:");
        if (freeDeliveries > 0)
          for (const d of this.claimDeliveries(now, freeDeliveries))
            this.track(`dlv:${d.id}`, d.kind === "event" ? deliverEvent(this.gw, d, this.owner) : deliverProof(this.gw, d, this.owner));
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
    const table = key.startsWith("job:") ? "jobs" : key.startsWith("p2p:") ? "p2p_transfers" : "deliveries";
    const id = key.slice(4);
    const done = p
      .catch((e) => {
        this.gw.log.error("settlement work failed", { key, error: String((e as Error)?.stack ?? e) });
        // Leave it for a later pass (not at once: a fault that repeats must not spin), not stuck under our lease.
        this.gw.db
          .query(`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ? WHERE id = ? AND lease_owner = ?`)
          .run(this.gw.clock() + 5, id, this.owner);
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
  private claim<Row>(table: "jobs" | "deliveries" | "p2p_transfers", now: number, limit: number): Row[] {
    return this.gw.store.tx(() =>
      this.gw.db
        .query<Row, [string, number, number, number]>(
          `UPDATE ${table} SET lease_owner = ?1, lease_until = ?2
           WHERE id IN (SELECT id FROM ${table} WHERE state = 'pending' AND next_attempt_at <= ?3
                          AND (lease_until IS NULL OR (lease_until < ?3 AND lease_owner != ?1)) ORDER BY next_attempt_at LIMIT ?4)
           RETURNING *`,
        )
        .all(this.owner, now + this.jobLeaseSeconds, now, limit),
    );
  }

  /** Sleep until the earliest due retry/deadline, but renew (or retry taking) the lease in time. */
  private scheduleNext(): void {
    if (this.stopped) return;
    const { db } = this.gw;
    const now = this.gw.clock();
    const next = db
      .query<{ t: number | null }, []>(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until + 1, 0))) AS t FROM jobs WHERE state = 'pending'
           UNION ALL SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until + 1, 0))) FROM deliveries WHERE state = 'pending'
           UNION ALL SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until + 1, 0))) FROM p2p_transfers WHERE state = 'pending')`,
      )
      .get()?.t;
    const renewIn = this.holding ? Math.max(1, Math.floor(this.leaseSeconds / 3)) : 1;
    const dueIn = next === null || next === undefined ? renewIn : Math.max(0, next - now);
    const seconds = Math.min(dueIn, renewIn);
    this.timer = setTimeout(() => void this.pass(), Math.max(seconds * 1000, this.inflight.size ? 50 : 0) || 1);
  }
}
