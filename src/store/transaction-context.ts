// Which asynchronous context is inside a store transaction. A transaction holds the database's single writer (and,
// in the SQLite engine, its only connection) until it commits, so nothing slow may run inside one: no network I/O
// (asserted by the outbound HTTP path), no waiting on another transaction (the nested call is refused).
import { AsyncLocalStorage } from "node:async_hooks";

export type TransactionContext = { active: boolean; engine: object };

const context = new AsyncLocalStorage<TransactionContext>();

/** Thrown when outbound I/O starts inside a transaction: a programming error, never a peer's fault. */
export class IoInsideTransaction extends Error {
  constructor(what: string) {
    super(`${what} started inside a store transaction: do the I/O before or after it, never inside`);
    this.name = "IoInsideTransaction";
  }
}

/** The open transaction of the calling context, if any. */
export function currentTransaction(): TransactionContext | undefined {
  const c = context.getStore();
  return c?.active ? c : undefined;
}

/** Call at the start of every outbound network exchange. */
export function assertOutsideTransaction(what: string): void {
  if (currentTransaction()) throw new IoInsideTransaction(what);
}

/** Runs `fn` as the body of transaction `c` (only the store's engines call this). */
export function runInTransaction<T>(c: TransactionContext, fn: () => T): T {
  return context.run(c, fn);
}
