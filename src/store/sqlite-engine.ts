// The store port over bun:sqlite: one connection, so transactions are serialised in this process (other processes,
// like the CLI, wait on SQLite's busy timeout) and run as BEGIN IMMEDIATE … COMMIT/ROLLBACK.
// The repositories underneath are synchronous; the port's Promises resolve without yielding to the event loop, and a
// transaction begins at the start of an event-loop turn, so one without I/O (asserted) never lets another request's
// code run while it holds the connection (code not yet on the port still uses the synchronous `store.tx`).
//
// Batching (issue 20 item 3, `sqliteBatchTransactions`): the write transactions queued when the connection frees up
// run in that one turn as ONE SQLite transaction, each member inside its own SAVEPOINT, so a member that throws is
// rolled back to its savepoint and undoes only its own work; a single COMMIT (and with group commit one fsync
// round) serves them all. Every member's promise settles only after that COMMIT, so no caller acts on work that
// is not committed; when the COMMIT fails, or SQLite leaves the transaction on its own (SQLITE_FULL, an I/O
// error), every member that ran is rejected (nothing of theirs was committed) and those not yet run are run in a
// fresh transaction. Members run strictly one after another, each with its own context (a handle kept past its
// body refuses), so the serial semantics are unchanged: each sees the commits (and releases) before it. Reads get
// a transaction of their own (query_only), and the reads waiting together share one.
import type { Database } from "bun:sqlite";
import { NestedTransaction, TransactionClosed, type AsyncRepositories, type StorePort } from "./port";
import { committed } from "./durability";
import { currentTransaction, runInTransaction, type TransactionContext } from "./transaction-context";

/** Thrown by a synchronous store transaction started from outside while a port transaction holds the connection. */
export class ConnectionBusy extends Error {
  constructor() {
    super("synchronous store transaction while an asynchronous one holds the connection: use store.transaction");
    this.name = "ConnectionBusy";
  }
}

type Repositories = Record<string, object>;

/** One repository's methods as Promise-returning functions that refuse to run once `ctx` is closed. */
function wrapRepository(repo: object, ctx: TransactionContext): Record<string, unknown> {
  const wrapped: Record<string, unknown> = {};
  for (const [method, fn] of Object.entries(repo)) {
    if (typeof fn !== "function") continue;
    wrapped[method] = (...args: unknown[]) => {
      if (!ctx.active) return Promise.reject(new TransactionClosed());
      try {
        return Promise.resolve((fn as (...a: unknown[]) => unknown).apply(repo, args));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return wrapped;
}

/**
 * The transaction's `tx`: each repository is wrapped on first use (a getter on a prototype built once), because
 * wrapping all of them for every transaction (some 40 repositories, 300 methods) cost ~0.17 ms of CPU per submit.
 */
function repositoriesPrototype<S extends Repositories>(repos: S): object {
  const proto: Record<string, unknown> = {};
  for (const name of Object.keys(repos))
    Object.defineProperty(proto, name, {
      get(this: { [CTX]: TransactionContext }) {
        const value = wrapRepository(repos[name]!, this[CTX]);
        Object.defineProperty(this, name, { value, enumerable: true });
        return value;
      },
      enumerable: true,
    });
  return proto;
}
const CTX = Symbol("transaction context");

function asyncRepositories<S extends Repositories>(proto: object, ctx: TransactionContext): AsyncRepositories<S> {
  const tx = Object.create(proto) as { [CTX]: TransactionContext };
  tx[CTX] = ctx;
  return tx as unknown as AsyncRepositories<S>;
}

export type SqliteEngine<S> = StorePort<AsyncRepositories<S>> & {
  /** Whether a port transaction (or read) holds the connection right now. */
  busy(): boolean;
  /** Whether the calling context is the body of this engine's open transaction. */
  inside(): boolean;
  /** SQLite transactions committed and the port transactions (members) they carried, by kind; members waiting. */
  stats(): { write: Batches; read: Batches; queued: number };
};

export type Batches = { transactions: number; members: number };

/** Most members in one SQLite transaction: one turn of the event loop never holds the connection for long. */
export const BATCH_LIMIT = 32;

/** Rejects a member whose own work was fine: another member's failure cost the transaction they shared. */
export class BatchRolledBack extends Error {
  constructor(cause: unknown) {
    super(`rolled back with the transaction it shared: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "BatchRolledBack";
  }
}

type Member = {
  write: boolean;
  fn: (tx: never) => Promise<unknown>;
  ok: (value: unknown) => void;
  fail: (error: unknown) => void;
};
type Ran = { m: Member; failed: boolean; value?: unknown; error?: unknown };

const BEGIN_WRITE = "BEGIN IMMEDIATE";
// A read must not write: query_only makes SQLite refuse it (reset before the connection is handed on).
const BEGIN_READ = "BEGIN; PRAGMA query_only = ON";

/** `batch`: most members per SQLite transaction (1 = every port transaction its own, as before batching). */
export function sqliteEngine<S extends Repositories>(
  db: Database,
  repos: S,
  opts: { batch?: number } = {},
): SqliteEngine<S> {
  const limit = Math.max(1, opts.batch ?? BATCH_LIMIT);
  const proto = repositoriesPrototype(repos);
  const queue: Member[] = [];
  /** A turn is scheduled or running; set until the queue is empty. */
  let pumping = false;
  let open = false;
  let holder: TransactionContext | null = null;
  const counts = { write: { transactions: 0, members: 0 }, read: { transactions: 0, members: 0 } };

  function enqueue<T>(write: boolean, fn: (tx: AsyncRepositories<S>) => Promise<T>): Promise<T> {
    if (currentTransaction()) return Promise.reject(new NestedTransaction());
    return new Promise<T>((ok, fail) => {
      queue.push({ write, fn: fn as Member["fn"], ok: ok as Member["ok"], fail });
      if (!pumping) {
        pumping = true;
        setImmediate(turn);
      }
    });
  }

  // A fresh turn of the event loop starts with an empty microtask queue: from BEGIN to COMMIT only the members'
  // own continuations run (no other request's code), unless a body waits on a timer or I/O.
  async function turn(): Promise<void> {
    try {
      await run(take());
    } finally {
      if (queue.length > 0) setImmediate(turn);
      else pumping = false;
    }
  }

  /**
   * The head of the queue and the members of its kind behind it, oldest first; the others keep their places. Taking
   * a write past a waiting read (or the reverse) is sound: both were asked for before either settled, so either
   * order is one the callers could have seen, and a submit's read and write interleave in the queue under load.
   */
  function take(): Member[] {
    const write = queue[0]!.write;
    const taken: Member[] = [];
    let kept = 0;
    for (const m of queue)
      if (m.write === write && taken.length < limit) taken.push(m);
      else queue[kept++] = m;
    queue.length = kept;
    return taken;
  }

  async function body(m: Member): Promise<Ran> {
    const ctx: TransactionContext = { active: true, engine: db };
    holder = ctx;
    try {
      const value = await runInTransaction(ctx, () => m.fn(asyncRepositories<S>(proto, ctx) as never));
      return { m, failed: false, value };
    } catch (error) {
      return { m, failed: true, error };
    } finally {
      ctx.active = false;
      holder = null;
    }
  }

  /** After a lost transaction: the connection handed on clean; a failure here must not keep members waiting. */
  function cleanUp(write: boolean): void {
    try {
      if (db.inTransaction) db.exec("ROLLBACK");
    } catch {
      // nothing more to undo here: the next BEGIN fails (and says why) if the connection is still unusable
    }
    if (!write)
      try {
        db.exec("PRAGMA query_only = OFF");
      } catch {
        // as above
      }
  }

  function startFsync(): void {
    try {
      committed(db);
    } catch {
      // only the early start is lost: every answer still waits for the barrier's own fsync (./durability.ts)
    }
  }

  async function run(batch: Member[]): Promise<void> {
    const write = batch[0]!.write;
    // Savepoints only where another member's work must survive a failure: a lone member rolls back whole.
    const savepoints = write && batch.length > 1;
    const ran: Ran[] = [];
    let next = 0;
    open = true;
    try {
      try {
        db.exec(write ? BEGIN_WRITE : BEGIN_READ);
      } catch (e) {
        cleanUp(write);
        for (const m of batch) m.fail(e);
        return;
      }
      try {
        while (next < batch.length) {
          if (savepoints) db.exec("SAVEPOINT m");
          const r = await body(batch[next++]!);
          ran.push(r);
          if (!db.inTransaction) throw r.failed ? r.error : new Error("the SQLite transaction ended inside its body");
          if (savepoints) db.exec(r.failed ? "ROLLBACK TO m; RELEASE m" : "RELEASE m");
        }
        db.exec(write && !savepoints && ran[0]!.failed ? "ROLLBACK" : "COMMIT");
        if (!write) db.exec("PRAGMA query_only = OFF");
      } catch (e) {
        // The transaction is lost: nothing of any member that ran was committed. Those not run yet go first next.
        // A member that failed gets its own error; the others the one that cost the transaction.
        cleanUp(write);
        const fromMember = ran.some((r) => r.failed && r.error === e);
        for (const r of ran) r.m.fail(r.failed ? r.error : fromMember ? new BatchRolledBack(e) : e);
        queue.unshift(...batch.slice(next));
        return;
      }
      const kind = write ? counts.write : counts.read;
      kind.transactions++;
      kind.members += ran.length;
      for (const r of ran)
        if (r.failed) r.m.fail(r.error);
        else r.m.ok(r.value);
      // Group commit: the fsync starts now (the answers above run only after this), unless another transaction
      // already waits for the connection (under load one nearly always does: the last of them starts it, so
      // concurrent commits still share one). Outside the try above: the COMMIT is done and answered.
      if (queue.length === 0) startFsync();
    } finally {
      open = false;
    }
  }

  return {
    transaction: (fn) => enqueue(true, fn),
    read: (fn) => enqueue(false, fn),
    busy: () => open,
    inside: () => holder !== null && currentTransaction() === holder,
    stats: () => ({ write: { ...counts.write }, read: { ...counts.read }, queued: queue.length }),
  };
}
