// Issue 18: whether this build can serve on PostgreSQL, and what is missing when it cannot. Two conditions, both
// needed, because half of a gateway on one engine is worse than none: (1) the PostgreSQL store implements every
// repository of the port (POSTGRES_REPOSITORIES against the SQLite store's own list), and (2) the application reaches
// the store only through the port (`store.transaction`/`store.read`), not through the SQLite engine's synchronous
// repositories and `store.tx`, which have no PostgreSQL counterpart. (2) is a declaration, flipped by the change
// that converts the last call site; the repositories are counted.
import { ConfigError } from "../../config-error";
import { POSTGRES_REPOSITORIES } from "./repositories";

/**
 * True since no application code calls the synchronous SQLite repositories or `store.tx` (issue 14 item 3): the
 * gateway's store is typed as the port only (`PortStore`, src/gateway.ts), so tsc refuses such a call, and
 * tests/store/port-only-outside-store.test.ts checks the sources with an empty pending list.
 */
export const APPLICATION_ON_PORT = true;

/** Of the port's repositories (`all`, the SQLite store's names), those the PostgreSQL store does not implement yet. */
export function missingPostgresRepositories(all: readonly string[]): string[] {
  const on = new Set<string>(POSTGRES_REPOSITORIES);
  return all.filter((name) => !on.has(name));
}

/**
 * What keeps this build from serving on PostgreSQL, one phrase each; empty when it can. The last one stays until
 * start-up opens the PostgreSQL store (./engine.ts `openPostgresStore`) instead of refusing: `openStore` returns
 * the SQLite engine's synchronous store, which PostgreSQL cannot be.
 */
export function postgresGaps(all: readonly string[]): string[] {
  const gaps: string[] = [];
  const missing = missingPostgresRepositories(all);
  if (missing.length) gaps.push(`the PostgreSQL store lacks the repositories ${missing.join(", ")}`);
  if (!APPLICATION_ON_PORT)
    gaps.push("the application still calls the synchronous SQLite store (store.tx and its repositories)");
  gaps.push("start-up opens only the SQLite store (openStore)");
  return gaps;
}

/** Throws the ConfigError an operator sees at start (exit 78); the URL is never echoed (it may hold a password). */
export function refuseUnservablePostgres(all: readonly string[]): void {
  const gaps = postgresGaps(all);
  if (gaps.length === 0) return;
  throw new ConfigError(
    `databaseUrl (OC_DATABASE_URL) is set, but this build cannot serve on PostgreSQL yet: ${gaps.join("; ")} ` +
      "(issue 18). Unset it to serve on SQLite in the data dir.",
  );
}
