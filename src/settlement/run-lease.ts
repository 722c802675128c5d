// Issue 18 item 2: a run's hold on the row it was claimed with. The scheduler renews the lease while the run is in
// flight and marks it lost when a renewal finds the row gone (expired, or taken by another node); the run checks
// before every call that leaves the process, and every transaction it commits is fenced by the lease, so a run that
// lost its row stops without any further effect (LeaseLost rolls its transaction back).
import { hostname } from "node:os";
import type { Tx } from "../store";
import type { LeasedTable } from "../store/leases";
import { randomHex } from "../protocol/hex";

/** Thrown inside a run whose lease is gone: whatever the transaction it is thrown in wrote does not commit. */
export class LeaseLost extends Error {
  constructor(table: LeasedTable, id: string) {
    super(`lease lost: ${table} ${id}`);
    this.name = "LeaseLost";
  }
}

export class RunLease {
  private gone = false;
  /**
   * `keepDeliverySeconds`: a settlement run of a scheduler queues the proof delivery its payment needs already
   * leased to that scheduler, for this long, and hands it over after its commit (effects.ts runDelivery): the
   * webhook goes out without a claiming pass in between, nor that pass's write, whose fsync the call would wait
   * for. Null: the delivery is queued unleased, for any node's pass.
   */
  constructor(
    readonly table: LeasedTable,
    readonly id: string,
    readonly owner: string,
    readonly keepDeliverySeconds: number | null = null,
  ) {}

  get lost(): boolean {
    return this.gone;
  }

  /** The scheduler's renewal found the row no longer ours. */
  lose(): void {
    this.gone = true;
  }

  /** Before anything a run does outside the database (a peer call, a webhook): stop once the row is gone. */
  ensure(): void {
    if (this.gone) throw new LeaseLost(this.table, this.id);
  }

  /** A leased write's answer: false means the lease is gone, so the transaction it is in must not commit. */
  async fenced(write: Promise<boolean>): Promise<void> {
    if (!(await write)) this.fail();
  }

  /**
   * The fence of a run's transaction that writes nothing leased: the row must still be validly ours. Called last
   * in it, so the lock order is that of every other writer of those rows (on Postgres the check locks the row until
   * the commit, so no other node can claim it in between).
   */
  async hold(tx: Pick<Tx, "leases">, now: number): Promise<void> {
    if (!(await tx.leases.holds(this.table, this.id, this.owner, now))) this.fail();
  }

  private fail(): never {
    this.gone = true;
    throw new LeaseLost(this.table, this.id);
  }
}

/** Incarnations of one node (its processes over time) are told apart by this many random bytes. */
const INCARNATION_BYTES = 4;
/** This process's incarnation: every lease owner it uses starts `<nodeId>:<incarnation>:`. */
const INCARNATION = randomHex(INCARNATION_BYTES);
const NOT_IN_NODE_ID = /[^A-Za-z0-9._-]/g;
const NODE_ID_MAX = 64;

/** Unnamed nodes on port 0, by their config: one name each, whoever asks (the scheduler, a request's run). */
const ephemeral = new WeakMap<object, string>();

/**
 * A node's stable name: the configured `nodeId`, else `<host>-<port>` (several nodes on one host listen on distinct
 * ports; a restart keeps both). A node on port 0 (an ephemeral port: tests, several in one process) gets a random
 * name instead, kept for its config object.
 */
export function nodeIdOf(config: { nodeId?: string; port: number }): string {
  if (config.nodeId) return config.nodeId;
  let name = config.port ? `${hostname()}-${config.port}` : ephemeral.get(config);
  if (!name) ephemeral.set(config, (name = `${hostname()}-${randomHex(INCARNATION_BYTES)}`));
  return name.replace(NOT_IN_NODE_ID, "-").slice(0, NODE_ID_MAX);
}

/** In every lease owner of this process, whatever its node id (two unnamed nodes in one process: tests). */
export const PROCESS_MARK = `:${INCARNATION}:`;

/** What every lease owner of this process on node `nodeId` starts with. */
const incarnationOf = (nodeId: string): string => `${nodeId}${PROCESS_MARK}`;

/** A scheduler's lease owner: two in one process (tests) still have distinct owners. */
export const schedulerOwner = (nodeId: string): string => incarnationOf(nodeId) + randomHex(INCARNATION_BYTES);

/** The owner of first attempts made inside a request (send-money), never renewed: the request's own timeout. */
export const inlineOwner = (nodeId: string): string => `${incarnationOf(nodeId)}inline`;
