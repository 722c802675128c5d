// The store port (issue 14 item 3): what application code asks of storage, independent of the engine. A second
// engine (PostgreSQL through Bun.SQL) implements the same shape; so nothing here names bun:sqlite, and every method
// of a transaction's repositories returns a Promise. Records are plain objects with camelCase fields where the
// repository has been converted (and bigint for money, always).

/** A repository seen through the port: every method answers with a Promise. */
export type AsyncRepository<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : never;
};

/** The grouped repositories of one transaction. */
export type AsyncRepositories<S> = { [K in keyof S]: AsyncRepository<S[K]> };

/**
 * `transaction(fn)`: `fn` runs as one atomic unit, serialised with every other transaction of the store; it
 * commits when `fn` resolves and rolls back when it throws (the error propagates unchanged). Rules for `fn`: no
 * network I/O (asserted: the outbound HTTP path throws IoInsideTransaction), no nested transaction (refused), and
 * the `tx` handle is dead once `fn` settles. `read(fn)`: a consistent snapshot; any write in it is refused.
 */
export interface StorePort<Tx> {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * A node's hold on its id among the gateways on one database (issue 18), taken at the scheduler's start and given
 * up at its stop. Its existence is the proof that no other live process runs under that id.
 */
export type NodeHold = {
  release(): Promise<void>;
  /**
   * Whether the id is still this node's. A hold can be lost while the node runs (Postgres: the connection holding
   * the lock dropped, and the lock with it): it is taken again when nobody else took it meanwhile, else false.
   * Throws when the database cannot be asked (unknown: ask again later).
   */
  stillHeld(): Promise<boolean>;
  /**
   * The hold covers the whole database (SQLite: the data-dir lock proves one serving process per file), so every
   * lease not of this process is a dead one's; else only this node id's previous incarnations are.
   */
  wholeDatabase: boolean;
};

/** Thrown by `transaction`/`read` called inside another one (pass the outer `tx` down instead). */
export class NestedTransaction extends Error {
  constructor() {
    super("store.transaction called inside a transaction: pass the open transaction's handle down instead");
    this.name = "NestedTransaction";
  }
}

/** Thrown by a repository call through a transaction handle after its transaction ended. */
export class TransactionClosed extends Error {
  constructor() {
    super("store call through a transaction that already ended");
    this.name = "TransactionClosed";
  }
}
