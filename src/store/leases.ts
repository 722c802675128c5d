// §12.4 leases (issue 18 item 2): every node's scheduler claims due jobs, deliveries and outbound transfers in
// batches, each row with its own lease; there is no global lease. A lease's holder is `<nodeId>:<incarnation>:…`
// (src/settlement/run-lease.ts). Every write a run makes is fenced: it applies only while its owner holds the lease
// and the lease is still valid, so a run that lost its row changes nothing. On SQLite leases are on the gateway's
// clock: one process writes the file (the data-dir lock), its single writer serialises claims, and the clock
// that decides a lease's end is the one that wrote it, so there is nothing to disagree with (Postgres uses the
// database's clock instead: ./postgres/claims.ts).
import type { Database } from "bun:sqlite";
import { camelAll } from "./records";

/** The outbox tables the scheduler claims rows of. */
export type LeasedTable = "jobs" | "deliveries" | "p2p_transfers";
export const LEASED_TABLES: readonly LeasedTable[] = ["jobs", "deliveries", "p2p_transfers"];

/** Owners are `<nodeId>:<incarnation>:…`; a node's previous incarnations are the owners with its prefix. */
export const nodePrefix = (nodeId: string): string => `${nodeId}:`;

export function leases(db: Database) {
  const perTable = (table: LeasedTable) => ({
    releaseOwner: db.query(`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`),
    releaseStale: db.query(
      `UPDATE ${table} SET lease_owner = NULL, lease_until = NULL
       WHERE substr(lease_owner, 1, length(?1)) = ?1 AND instr(lease_owner, ?2) = 0`,
    ),
    owners: db.query<{ o: string }, []>(`SELECT DISTINCT lease_owner AS o FROM ${table} WHERE lease_owner IS NOT NULL`),
    releaseAfterFault: db.query(
      `UPDATE ${table} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ?3
       WHERE id = ?1 AND lease_owner = ?2`,
    ),
    // A row whose lease expired may be taken again by its own owner (a single node must not wait for another to
    // take its expired rows), except the rows in ?5 (JSON ids): those whose run is still in flight, lost or not.
    claim: db.query<Record<string, unknown>, [string, number, number, number, string]>(
      `UPDATE ${table} SET lease_owner = ?1, lease_until = ?2
       WHERE id IN (SELECT id FROM ${table} WHERE state = 'pending' AND next_attempt_at <= ?3
                      AND (lease_until IS NULL OR lease_until < ?3)
                      AND id NOT IN (SELECT value FROM json_each(?5))
                    ORDER BY next_attempt_at LIMIT ?4)
       RETURNING *`,
    ),
    // The claim's condition alone, as a read. Most passes find nothing due in two of the three tables (an idle pass
    // in all three): this costs ~0.2 µs where the claiming UPDATE … RETURNING costs 25–40 µs even when it matches no
    // row (80–90 µs each in a gateway between payments, where the scheduler's code runs cold). The claim runs in
    // the pass's write transaction, so nothing can become due between the two.
    anyDue: db.query<{ one: number }, [number]>(
      `SELECT 1 AS one FROM ${table} WHERE state = 'pending' AND next_attempt_at <= ?1
         AND (lease_until IS NULL OR lease_until < ?1) LIMIT 1`,
    ),
    renew: db.query<{ id: string }, [string, string, number, number]>(
      `UPDATE ${table} SET lease_until = ?3
       WHERE id IN (SELECT value FROM json_each(?1)) AND lease_owner = ?2 AND lease_until >= ?4
       RETURNING id`,
    ),
    holds: db.query<{ id: string }, [string, string, number]>(
      `SELECT id FROM ${table} WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?3`,
    ),
  });
  const tables = {
    jobs: perTable("jobs"),
    deliveries: perTable("deliveries"),
    p2p_transfers: perTable("p2p_transfers"),
  };
  const nextDue = db.query<{ t: number | null }, []>(
    `SELECT MIN(t) AS t FROM (${LEASED_TABLES.map(
      (t) => `SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until + 1, 0))) AS t FROM ${t} WHERE state = 'pending'`,
    ).join(" UNION ALL ")})`,
  );

  return {
    /** Graceful shutdown: every row lease `owner` holds is given up, so the rows are due again at once. */
    releaseAll(owner: string): void {
      for (const t of LEASED_TABLES) tables[t].releaseOwner.run(owner);
    },
    /**
     * At a node's start: the leases of dead processes, owners starting with `prefix` (a node id's, or "" for every
     * owner) but not containing `keep` (this process's incarnation mark), are given up, so a crash restart resumes at
     * once instead of after the lease. Safe only while no live process holds them: the data-dir lock (SQLite, the
     * whole file) or the node id's advisory lock (Postgres, that node's).
     */
    releaseStale(prefix: string, keep: string): number {
      let n = 0;
      for (const t of LEASED_TABLES) n += tables[t].releaseStale.run(prefix, keep).changes;
      return n;
    },
    owners: (table: LeasedTable) => tables[table].owners.all().map((r) => r.o),
    /** A run that threw: the row is due again at `at`, not stuck under our lease. */
    releaseAfterFault: (table: LeasedTable, id: string, owner: string, at: number) =>
      tables[table].releaseAfterFault.run(id, owner, at).changes === 1,
    /**
     * Due rows whose lease is free or expired become `owner`'s until `until`, in one conditional UPDATE; never one
     * of `running` (rows whose run is in flight on the caller's node: a run whose lease lapsed stays lost).
     */
    claim: <Row>(
      table: LeasedTable,
      owner: string,
      until: number,
      now: number,
      limit: number,
      running: readonly string[] = [],
    ): Row[] =>
      tables[table].anyDue.get(now)
        ? (camelAll(tables[table].claim.all(owner, until, now, limit, JSON.stringify(running))) as Row[])
        : [],
    /** Extends the leases `owner` still validly holds to `until`; returns those ids (a missing one was lost). */
    renew: (table: LeasedTable, owner: string, ids: readonly string[], until: number, now: number): string[] =>
      ids.length ? tables[table].renew.all(JSON.stringify(ids), owner, until, now).map((r) => r.id) : [],
    /** Whether `owner` still validly holds the row: the fence of a run's transaction that writes no leased row. */
    holds: (table: LeasedTable, id: string, owner: string, now: number): boolean =>
      tables[table].holds.get(id, owner, now) != null,
    /** The earliest moment any pending row is due and unleased. */
    nextDue: (): number | null => nextDue.get()?.t ?? null,
  };
}
export type Leases = ReturnType<typeof leases>;
