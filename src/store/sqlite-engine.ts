// The store port over bun:sqlite: one connection, so transactions are serialised by an async mutex in this process
// (other processes, like the CLI, wait on SQLite's busy timeout) and each is BEGIN IMMEDIATE … COMMIT/ROLLBACK.
// The repositories underneath are synchronous; the port's Promises resolve without yielding to the event loop, and a
// transaction begins at the start of an event-loop turn, so one without I/O (asserted) never lets another request's
// code run while it holds the connection (code not yet on the port still uses the synchronous `store.tx`).
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

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

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
};

export function sqliteEngine<S extends Repositories>(db: Database, repos: S): SqliteEngine<S> {
  let tail: Promise<void> = Promise.resolve();
  let holder: TransactionContext | null = null;
  const proto = repositoriesPrototype(repos);

  /** Waits for the connection, runs `fn` between `begin` and COMMIT (ROLLBACK on a throw), then hands it on. */
  async function exclusive<T>(begin: string, end: () => void, fn: (tx: AsyncRepositories<S>) => Promise<T>) {
    if (currentTransaction()) throw new NestedTransaction();
    const before = tail;
    let release!: () => void;
    const mine = (tail = new Promise<void>((r) => {
      release = r;
    }));
    await before;
    // A fresh turn of the event loop starts with an empty microtask queue: from BEGIN to COMMIT only this
    // transaction's own continuations run (no other request's code), unless its body waits on a timer or I/O.
    await nextTurn();
    const ctx: TransactionContext = { active: true, engine: db };
    holder = ctx;
    try {
      db.exec(begin);
      try {
        const value = await runInTransaction(ctx, () => fn(asyncRepositories<S>(proto, ctx)));
        ctx.active = false;
        db.exec("COMMIT");
        // Group commit: the fsync starts now, unless another transaction already waits for the connection (under
        // load one is nearly always waiting: the last of them starts it, so concurrent commits still share one).
        if (tail === mine) committed(db);
        return value;
      } catch (e) {
        ctx.active = false;
        if (db.inTransaction) db.exec("ROLLBACK");
        throw e;
      } finally {
        end();
      }
    } finally {
      ctx.active = false;
      holder = null;
      release();
    }
  }

  return {
    transaction: (fn) => exclusive("BEGIN IMMEDIATE", () => {}, fn),
    // A read must not write: query_only makes SQLite refuse it (reset before the connection is handed on).
    read: (fn) => exclusive("BEGIN; PRAGMA query_only = ON", () => db.exec("PRAGMA query_only = OFF"), fn),
    busy: () => holder !== null,
    inside: () => holder !== null && currentTransaction() === holder,
  };
}
