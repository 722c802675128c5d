// §12.4 leases: one process per database runs settlement work (the global `scheduler_lease` row), and each job,
// delivery or outbound transfer it runs is claimed with its own lease. The tables below share the lease columns.
import type { Database } from "bun:sqlite";

/** The outbox tables the scheduler claims rows of. */
export type LeasedTable = "jobs" | "deliveries" | "p2p_transfers";
export const LEASED_TABLES: readonly LeasedTable[] = ["jobs", "deliveries", "p2p_transfers"];

const SCHEDULER_LEASE = "settlement";

export function leases(db: Database) {
  const holder = db.query<{ owner: string; lease_until: number }, [string]>(
    "SELECT owner, lease_until FROM scheduler_lease WHERE name = ?",
  );
  const take = db.query(
    `INSERT INTO scheduler_lease (name, owner, lease_until) VALUES (?5, ?1, ?2)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
     WHERE scheduler_lease.owner = ?1 OR scheduler_lease.lease_until < ?3 OR ?4`,
  );
  const giveUp = db.query("DELETE FROM scheduler_lease WHERE name = ? AND owner = ?");
  const perTable = (table: LeasedTable) => ({
    releaseOwner: db.query(`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`),
    owners: db.query<{ o: string }, []>(`SELECT DISTINCT lease_owner AS o FROM ${table} WHERE lease_owner IS NOT NULL`),
    releaseAfterFault: db.query(
      `UPDATE ${table} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ?3
       WHERE id = ?1 AND lease_owner = ?2`,
    ),
    claim: db.query<Record<string, unknown>, [string, number, number, number]>(
      `UPDATE ${table} SET lease_owner = ?1, lease_until = ?2
       WHERE id IN (SELECT id FROM ${table} WHERE state = 'pending' AND next_attempt_at <= ?3
                      AND (lease_until IS NULL OR (lease_until < ?3 AND lease_owner != ?1))
                    ORDER BY next_attempt_at LIMIT ?4)
       RETURNING *`,
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
    schedulerLeaseHolder: () => holder.get(SCHEDULER_LEASE),
    /** Ours when free, expired, already ours, or `takeover` (its holder is a dead local process). */
    takeSchedulerLease: (owner: string, until: number, now: number, takeover: boolean) =>
      take.run(owner, until, now, takeover ? 1 : 0, SCHEDULER_LEASE).changes === 1,
    /** Graceful shutdown: every row lease and the scheduler lease `owner` holds are given up. */
    releaseAll(owner: string): void {
      for (const t of LEASED_TABLES) tables[t].releaseOwner.run(owner);
      giveUp.run(SCHEDULER_LEASE, owner);
    },
    owners: (table: LeasedTable) => tables[table].owners.all().map((r) => r.o),
    releaseOwner: (table: LeasedTable, owner: string) => tables[table].releaseOwner.run(owner).changes,
    /** A run that threw: the row is due again at `at`, not stuck under our lease. */
    releaseAfterFault: (table: LeasedTable, id: string, owner: string, at: number) =>
      tables[table].releaseAfterFault.run(id, owner, at).changes === 1,
    /**
     * Due rows whose lease is free or expired become `owner`'s until `until`, in one conditional UPDATE. A row
     * still leased to this very owner is never re-claimed: its run is still in flight.
     */
    claim: <Row>(table: LeasedTable, owner: string, until: number, now: number, limit: number): Row[] =>
      tables[table].claim.all(owner, until, now, limit) as Row[],
    /** The earliest moment any pending row is due and unleased. */
    nextDue: (): number | null => nextDue.get()?.t ?? null,
  };
}
export type Leases = ReturnType<typeof leases>;
