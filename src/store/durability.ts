// Group commit for `sqliteSynchronous: FULL` (issue 20). The serving gateway's connection runs SQLite with
// synchronous=NORMAL in WAL mode, so COMMIT writes its frames to the -wal file without an fsync, and durability is
// made explicit: `durable()` fsyncs the -wal once for every commit made since the last fsync, off the event loop
// (an async fs fsync on Bun's thread pool), and concurrent waiters share that one fsync. Every transaction still
// commits (or rolls back) on its own, so a failing request undoes only its own work.
//
// Why this is FULL for everything acknowledged. In WAL mode a transaction is durable once its frames up to its
// commit frame are on stable storage in the -wal: recovery replays every valid frame (salts and checksums match)
// up to the last commit frame, in file order. synchronous=FULL gets there by fsyncing the -wal at every COMMIT; we
// fsync the same file after the COMMIT returned, and frames are appended in commit order, so one fsync covers every
// commit before it. What NORMAL keeps from FULL (https://sqlite.org/pragma.html#pragma_synchronous, wal.c): the
// -wal is fsynced before each checkpoint copies frames into the database file, the database file after each
// checkpoint, and the -wal header when the log restarts from the beginning after a checkpoint (so an out-of-order
// write after a restart cannot resurrect or corrupt frames). So a commit is either in an fsynced -wal, or in a
// checkpointed and fsynced database file; a crash or power loss can lose only commits made after the last
// `durable()`. The rule that makes that harmless: nothing leaves the process on the strength of a commit before
// `durable()` resolved: every HTTP response (src/routes/server.ts, whether its request wrote or only read: it may
// have read another request's commit; the one exception, a fresh pay code, is argued in src/http/durable-answer.ts:
// nothing can be done with it that does not wait for this fsync), every outbound peer call
// (src/peers/fetch-limited.ts: money never moves on a non-durable pin, and the scheduler's effects all go through
// it), every WebSocket push (src/app/hub.ts) and the event-log drain. The one difference from FULL: for that short
// window another process (the CLI) can read a commit that is not durable yet; its own writes run with real FULL,
// whose fsync of the same -wal covers ours too.
//
// Which connections are watched: `total_changes()` (rows written by this connection, triggers included) tells
// whether anything may have been committed since the last fsync. bun:sqlite transactions are synchronous, so no
// transaction is open while a request awaits: whatever total_changes() counted is committed or rolled back (a
// rolled-back change only costs one unnecessary fsync).
import type { Database } from "bun:sqlite";
import { open, type FileHandle } from "node:fs/promises";

type Sync = (walPath: string) => Promise<void>;

/**
 * fsync of the -wal through one descriptor kept open (one thread-pool round trip per fsync instead of three).
 * fsync flushes the file (inode), whichever descriptor wrote it. The -wal is only deleted when the last connection
 * closes, and ours stays open while registered, so the descriptor cannot go stale (a checkpoint's truncation keeps
 * the inode). Opened at the first fsync: before any commit there may be no -wal yet (then nothing to sync).
 */
function walSyncer(): { sync: Sync; close: () => void } {
  let fh: FileHandle | null = null;
  return {
    async sync(walPath) {
      if (!fh) {
        try {
          fh = await open(walPath, "r+");
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
          throw e;
        }
      }
      await fh.datasync(); // data + the size needed to read it, as SQLite itself syncs on Linux
    },
    close() {
      void fh?.close().catch(() => {});
      fh = null;
    },
  };
}

const RESOLVED = Promise.resolve();

export class GroupCommit {
  private readonly changes: () => number;
  /** total_changes() covered by the last completed fsync */
  private synced: number;
  private inflight: Promise<void> | null = null;
  /** The last failed fsync: what it was to cover and why it failed, until a later fsync covers that. */
  private failed: { covers: number; error: unknown } | null = null;
  /** fsyncs done (GET /metrics, tests) */
  fsyncs = 0;

  constructor(
    private readonly db: Database,
    private readonly walPath: string,
    private readonly sync: Sync,
  ) {
    const q = db.query<{ n: number }, []>("SELECT total_changes() AS n");
    this.changes = () => q.get()!.n;
    this.synced = this.changes();
  }

  /** True when something may have been committed since the last fsync. */
  pending(): boolean {
    return this.changes() !== this.synced;
  }

  /** Resolves once every commit made before this call is on stable storage; rejects if the fsync failed. */
  durable(): Promise<void> {
    const target = this.changes();
    return target === this.synced ? RESOLVED : this.reach(target);
  }

  /**
   * A COMMIT just returned: the fsync that covers it starts now when none is running, instead of at the first
   * barrier, which comes after the answer is built (POST /app/pay's QR, a submit's signed response, a settlement
   * run's next claim and request), so the fsync overlaps that work. While one runs, the commits made meanwhile
   * share the next round as before. Nobody awaits this round: if it fails, the waiters of what it covered get its
   * error (`failed`), as if they had been waiting on it.
   */
  committed(): void {
    if (!this.inflight && this.pending()) this.start().catch(() => {});
  }

  private async reach(target: number): Promise<void> {
    // An fsync already running may have started before our commit: wait for it, then run (or join) the next one.
    while (this.synced < target) {
      const failed = this.failed;
      if (failed && target <= failed.covers) {
        // Our commit's fsync failed and none has covered it since: it may not be on disk (and after a failed fsync
        // Linux may drop the dirty pages and report the next fsync clean), so we fail too. A new round starts, so
        // that storage that recovers is noticed by the requests that come after it.
        this.start().catch(() => {});
        throw failed.error;
      }
      await this.start();
    }
  }

  private start(): Promise<void> {
    return (this.inflight ??= this.round().finally(() => (this.inflight = null)));
  }

  private async round(): Promise<void> {
    // Every commit so far is in the -wal's page cache, so this fsync covers them. But total_changes() also counts
    // the rows of a transaction still open (a port transaction between two awaits): those are not in the -wal
    // yet, so such a round fsyncs what is there and claims nothing new; waiters run another round after it ends.
    const covers = this.db.inTransaction ? this.synced : this.changes();
    try {
      await this.sync(this.walPath);
    } catch (error) {
      this.failed = { covers: Math.max(covers, this.failed?.covers ?? 0), error };
      throw error;
    }
    this.fsyncs++;
    if (covers > this.synced) this.synced = covers;
    if (this.failed && this.synced >= this.failed.covers) this.failed = null;
  }
}

/** The group-commit connections of this process (several in tests: one per gateway). */
const open_ = new Set<GroupCommit>();
const byDb = new WeakMap<Database, GroupCommit>();

/** Switches an open (migrated) connection to group commit; closing the connection ends it. */
export function enableGroupCommit(db: Database, path: string): GroupCommit {
  db.exec("PRAGMA synchronous = NORMAL");
  const wal = walSyncer();
  const gc = new GroupCommit(db, `${path}-wal`, wal.sync);
  open_.add(gc);
  byDb.set(db, gc);
  const close = db.close.bind(db);
  db.close = ((throwOnError?: boolean) => {
    open_.delete(gc);
    wal.close();
    close(throwOnError);
  }) as typeof db.close;
  return gc;
}

export const groupCommitOf = (db: Database): GroupCommit | undefined => byDb.get(db);

/** A COMMIT on `db` just returned (GroupCommit.committed); nothing to do unless `db` is a group-commit connection. */
export function committed(db: Database): void {
  byDb.get(db)?.committed();
}

/**
 * On PostgreSQL (issue 18) no connection registers here, so this resolves at once, and that is the truth there: the
 * store's connections run with synchronous_commit on (./postgres/engine.ts), so a commit is durable when its COMMIT
 * returns (the WAL flushed by the server, and by its synchronous standbys when it has any), before any answer.
 *
 * The barrier for code that does not know which database it read: every group-commit connection in this process
 * with something not yet durable is fsynced. Resolves at once when there is none (NORMAL, the CLI, nothing new).
 */
export function durable(): Promise<void> {
  if (open_.size === 0) return RESOLVED;
  if (open_.size === 1) for (const gc of open_) return gc.durable();
  const waits: Promise<void>[] = [];
  for (const gc of open_) if (gc.pending()) waits.push(gc.durable());
  return waits.length === 0 ? RESOLVED : waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => {});
}
