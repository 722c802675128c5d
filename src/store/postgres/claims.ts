// Multi-node claims of outbox rows on PostgreSQL (issue 18 item 2): settlement jobs, webhook deliveries and
// outbound person-to-person transfers. Every node claims; there is no global lease. Why each part is as it is:
// * FOR UPDATE SKIP LOCKED inside a CTE: concurrent claimers take disjoint rows and never wait on each other.
//   Today's SQLite statement (UPDATE … WHERE id IN (SELECT … LIMIT n)) relies on SQLite's single writer; under
//   Postgres READ COMMITTED two claimers both pass the subquery and both take the row (measured: about half of
//   the jobs with 4×4 claimers; tests/store/postgres-claims.test.ts runs that control). The CTE keeps the planner
//   from re-running the LIMIT subquery per row (a nested loop could then lock more than n rows).
// * Leases in database time (clock_timestamp(), whole seconds, like every other timestamp in the schema): nodes
//   with skewed clocks, and a claimer that waited, agree on when a lease ends. clock_timestamp() rather than now():
//   now() is the transaction's start, stale once a statement waited on a row lock.
// * A lease is valid while lease_until >= the database second; a claim takes a row only once lease_until is below
//   it. The two tests are exact complements, so a holder's fenced write and another node's claim can never both
//   succeed for the same lease.
// * Renewal while a run is in flight, and every step write fenced by (lease_owner, valid lease): a node that
//   stalled past its lease loses the row and its next write changes nothing; a node that died loses its leases by
//   expiry, never by a PID check.
// Business times (next_attempt_at, updated_at) stay on the gateway's clock; only leases use the database's.
import type { SQL } from "bun";

export type ClaimTable = "jobs" | "deliveries" | "p2p_transfers";

/** The database clock in whole Unix seconds, read when the statement reaches it. */
export const DB_NOW = "floor(extract(epoch FROM clock_timestamp()))::bigint";

const TABLES: readonly ClaimTable[] = ["jobs", "deliveries", "p2p_transfers"];

function table(t: ClaimTable): ClaimTable {
  if (!TABLES.includes(t)) throw new Error(`not a claimable table: ${String(t)}`);
  return t;
}

/**
 * The claim statement: $1 owner, $2 lease seconds, $3 business now (what is due), $4 batch size, $5 ids never to
 * take (the claimer's own runs in flight).
 */
export function claimStatement(t: ClaimTable): string {
  const name = table(t);
  return `WITH due AS (
      SELECT id FROM ${name}
      WHERE state = 'pending' AND next_attempt_at <= $3
        AND (lease_until IS NULL OR lease_until < ${DB_NOW})
        AND NOT (id = ANY($5::text[]))
      ORDER BY next_attempt_at LIMIT $4
      FOR UPDATE SKIP LOCKED)
    UPDATE ${name} r SET lease_owner = $1, lease_until = ${DB_NOW} + $2
    FROM due WHERE r.id = due.id
    RETURNING r.*`;
}

/**
 * `sql` may be a pool or an open transaction (the claim then commits with whatever else it wrote). A row whose
 * lease expired may be taken again by the owner it expired under (a single node must not wait for another node to
 * take its expired rows), except the rows in `running`: its own runs still in flight, whose lapsed lease stays lost.
 */
export async function claimDue<Row>(
  sql: SQL,
  t: ClaimTable,
  c: { owner: string; leaseSeconds: number; now: number; limit: number; running?: readonly string[] },
): Promise<Row[]> {
  if (c.limit <= 0) return [];
  const args = [c.owner, c.leaseSeconds, c.now, c.limit, c.running ?? []];
  return (await sql.unsafe(claimStatement(t), args)) as Row[];
}

// The fence of every leased write, renewal and check, written once: the owner still holds the row's lease and it
// has not lapsed (`>=`, the exact complement of the claim's `lease_until < DB_NOW`; see the header).
const LEASE_VALID = `lease_until >= ${DB_NOW}`;

/** The fence in a positional statement (sql.unsafe): `owner` names the parameter holding the owner, e.g. "$2". */
export const heldByParam = (owner: `$${number}`): string => `lease_owner = ${owner} AND ${LEASE_VALID}`;

/** The fence as a fragment of `sql`'s tagged statements (`… WHERE id = ${id} AND ${heldBy(sql, owner)}`). */
export const heldBy = (sql: SQL, owner: string) => sql`lease_owner = ${owner} AND ${sql.unsafe(LEASE_VALID)}`;

/** Extends the leases this owner still validly holds; returns those ids. A run whose id is missing lost its row. */
export async function renewLeases(
  sql: SQL,
  t: ClaimTable,
  c: { owner: string; ids: readonly string[]; leaseSeconds: number },
): Promise<string[]> {
  if (c.ids.length === 0) return [];
  const rows: { id: string }[] = await sql.unsafe(
    `UPDATE ${table(t)} SET lease_until = ${DB_NOW} + $3
     WHERE id = ANY($1::text[]) AND ${heldByParam("$2")}
     RETURNING id`,
    [c.ids, c.owner, c.leaseSeconds],
  );
  return rows.map((r) => r.id);
}

const COLUMN = /^[a-z][a-z_]*$/;
const MANAGED = new Set(["id", "lease_owner", "lease_until"]);

/**
 * One step's write, fenced: it changes the row only while `owner` validly holds its lease. `release` gives the
 * lease up in the same statement (a finished or rescheduled run). Returns whether the row was changed; false means
 * the lease was lost and the run must stop without further effects.
 */
export async function fencedWrite(
  sql: SQL,
  t: ClaimTable,
  w: { id: string; owner: string; set: Record<string, unknown>; release?: boolean },
): Promise<boolean> {
  const cols = Object.keys(w.set);
  for (const c of cols)
    if (!COLUMN.test(c) || MANAGED.has(c)) throw new Error(`fencedWrite cannot set column ${JSON.stringify(c)}`);
  const sets = cols.map((c, i) => `${c} = $${i + 3}`);
  if (w.release) sets.push("lease_owner = NULL", "lease_until = NULL");
  if (sets.length === 0) throw new Error("fencedWrite needs something to write");
  const rows = await sql.unsafe(
    `UPDATE ${table(t)} SET ${sets.join(", ")}
     WHERE id = $1 AND ${heldByParam("$2")}
     RETURNING id`,
    [w.id, w.owner, ...cols.map((c) => w.set[c])],
  );
  return rows.length === 1;
}

/**
 * When the scheduler should look again: the earliest moment any pending row is due and its lease (if any) over.
 * SQLite's version uses the two-argument MAX(); Postgres spells it GREATEST. Seconds; null when nothing is pending.
 */
export async function nextDue(sql: SQL): Promise<number | null> {
  const [r] = await sql.unsafe(
    `SELECT MIN(t) AS t FROM (${TABLES.map(
      (t) =>
        `SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until + 1, 0))) AS t FROM ${t} WHERE state = 'pending'`,
    ).join(" UNION ALL ")}) due`,
  );
  return r.t === null ? null : Number(r.t);
}

/** Graceful stop: gives up every lease this owner holds, so other nodes take the rows at once. */
export async function releaseAll(sql: SQL, t: ClaimTable, owner: string): Promise<number> {
  const rows = await sql.unsafe(
    `UPDATE ${table(t)} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 RETURNING id`,
    [owner],
  );
  return rows.length;
}
