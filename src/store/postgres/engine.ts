// The store port on PostgreSQL through Bun.SQL (issue 18 item 1): `transaction` is one sql.begin() on a pooled
// connection (READ COMMITTED), so transactions of one node run concurrently (unlike the SQLite engine's single
// connection) and correctness rests on row locks and conditional statements, which is what the contract suite checks
// on both engines. `read` is REPEATABLE READ READ ONLY: the port promises a consistent snapshot, and under READ
// COMMITTED each statement would see the commits made since the previous one (a read-only transaction at this level
// never fails to serialise, so it needs no retry). The same port rules as SQLite's: no nested transaction, a dead
// handle refuses calls, no network I/O inside (the shared transaction context asserts it).
import { SQL } from "bun";
import { NestedTransaction, TransactionClosed, type NodeHold, type StorePort } from "../port";
import { currentTransaction, runInTransaction, type TransactionContext } from "../transaction-context";
import { migratePostgres } from "./schema";
import { holdNodeId } from "./node-lock";
import { postgresMemory, postgresRepositories, type PostgresTx } from "./repositories";
import { postgresStoreMembers } from "./store";
import { ConfigError } from "../../config-error";

export type PostgresStore = StorePort<PostgresTx> & {
  /** `timeout` seconds for running queries (0: drop every connection now); unset, waits for them all. */
  close(opts?: { timeout: number }): Promise<void>;
  /** Refused (ConfigError) while another live node holds `nodeId`: ./node-lock.ts. */
  holdNode(nodeId: string): Promise<NodeHold>;
};

/** Every repository method checks its transaction is still open before it touches the connection. */
function guarded(repos: PostgresTx, ctx: TransactionContext): PostgresTx {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, repo] of Object.entries(repos as Record<string, Record<string, unknown>>)) {
    const wrapped: Record<string, unknown> = {};
    for (const [method, fn] of Object.entries(repo))
      wrapped[method] = (...args: unknown[]) =>
        ctx.active ? (fn as (...a: unknown[]) => Promise<unknown>)(...args) : Promise.reject(new TransactionClosed());
    out[name] = wrapped;
  }
  return out as PostgresTx;
}

/** Thrown when the store's connection would answer BIGINT columns as strings (money must arrive as bigint). */
export class BigintRequired extends Error {
  constructor() {
    super("the PostgreSQL store needs its Bun.SQL connection opened with { bigint: true }");
    this.name = "BigintRequired";
  }
}

export function postgresStore(sql: SQL): PostgresStore {
  if ((sql as unknown as { options?: { bigint?: boolean } }).options?.bigint !== true) throw new BigintRequired();
  const memory = postgresMemory();
  async function run<T>(mode: string, fn: (tx: PostgresTx) => Promise<T>): Promise<T> {
    if (currentTransaction()) throw new NestedTransaction();
    const ctx: TransactionContext = { active: true, engine: sql };
    try {
      return (await sql.begin(mode, (t) =>
        runInTransaction(ctx, async () => {
          try {
            return await fn(guarded(postgresRepositories(t, memory), ctx));
          } finally {
            ctx.active = false; // before COMMIT: a handle kept past the body is dead
          }
        }),
      )) as T;
    } finally {
      ctx.active = false;
    }
  }
  return {
    transaction: (fn) => run("read write", fn),
    read: (fn) => run("isolation level repeatable read read only", fn),
    holdNode: (nodeId) => holdNodeId(sql, nodeId),
    close: (opts) => sql.close(opts),
  };
}

/** Connections per node unless told otherwise: enough for concurrent requests, few enough for many nodes. */
const DEFAULT_POOL = 10;

/** A driver's message with any URL in it replaced by the setting's name (a URL may carry a password). */
const withoutUrl = (message: string) => message.replace(/postgres(ql)?:\/\/\S*/gi, "<databaseUrl>");

/**
 * The store's connection pool. synchronous_commit on for every connection whatever the server, database or role
 * default: a COMMIT returns once its WAL is flushed, which is what lets durable() (../durability.ts) resolve at once
 * on this engine (tests/store/postgres-synchronous-commit.test.ts; without the option that test fails).
 */
export const storeConnection = (url: string, max: number) =>
  new SQL(url, { bigint: true, max, connection: { synchronous_commit: "on" } });

/**
 * A PostgreSQL store on `url` (issue 18), its schema created on an empty database or checked on an existing one
 * first (./schema.ts: safe when several nodes start at once), with the whole-database operations the gateway's
 * port needs (./store.ts). Money and ids arrive as BigInt (`bigint: true`). A database that cannot be reached or
 * is not this build's is the operator's to fix: a ConfigError (exit 78) that never echoes the URL.
 */
export async function openPostgresStore(url: string, opts: { max?: number } = {}) {
  const sql = storeConnection(url, opts.max ?? DEFAULT_POOL);
  try {
    await migratePostgres(sql);
  } catch (e) {
    await sql.close().catch(() => {});
    const why = withoutUrl((e as Error)?.message || String((e as { code?: string })?.code ?? e));
    throw new ConfigError(
      `cannot serve on the PostgreSQL database of databaseUrl (OC_DATABASE_URL): ${why}; check the server, the ` +
        "database, the user's rights, or unset it to serve on SQLite in the data dir",
    );
  }
  return { ...postgresStore(sql), ...postgresStoreMembers(sql), engine: "postgres" as const };
}
