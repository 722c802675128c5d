// §12.4 leases on PostgreSQL (see ../leases.ts). Row claims are ./claims.ts's: a batch taken with FOR UPDATE SKIP
// LOCKED (concurrent claimers on several nodes take disjoint rows and never wait on each other; SQLite's statement,
// `UPDATE … WHERE id IN (SELECT … LIMIT n)`, double-claims here: tests/store/postgres-claims.test.ts), and the
// lease's end on the database clock, so nodes with skewed clocks agree when it is over. The caller's `until - now`
// is the lease's length; what is due (`next_attempt_at <= now`) stays on the gateway's clock, as every business
// time does. The single-node scheduler's global lease keeps SQLite's statement and the gateway's clock: it is one
// row compared by the scheduler itself with its own `now`.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { LEASED_TABLES, type LeasedTable } from "../leases";
import { claimStatement, nextDue } from "./claims";
import { allRows } from "./rows";

const SCHEDULER_LEASE = "settlement";

function table(t: LeasedTable): LeasedTable {
  if (!LEASED_TABLES.includes(t)) throw new Error(`not a leased table: ${String(t)}`);
  return t;
}

export function pgLeases(sql: SQL): Tx["leases"] {
  const releaseOwner = async (t: LeasedTable, owner: string): Promise<number> =>
    (await sql.unsafe(`UPDATE ${table(t)} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, [owner]))
      .count;
  return {
    async schedulerLeaseHolder() {
      const [r] = await sql`SELECT owner, lease_until FROM scheduler_lease WHERE name = ${SCHEDULER_LEASE}`;
      return r ? { owner: r.owner as string, lease_until: Number(r.lease_until) } : null;
    },
    async takeSchedulerLease(owner, until, now, takeover) {
      const r = await sql`INSERT INTO scheduler_lease (name, owner, lease_until) VALUES (${SCHEDULER_LEASE}, ${owner},
          ${until})
        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
        WHERE scheduler_lease.owner = ${owner} OR scheduler_lease.lease_until < ${now} OR ${takeover}::boolean`;
      return r.count === 1;
    },
    async releaseAll(owner) {
      for (const t of LEASED_TABLES) await releaseOwner(t, owner);
      await sql`DELETE FROM scheduler_lease WHERE name = ${SCHEDULER_LEASE} AND owner = ${owner}`;
    },
    owners: async (t) =>
      (await sql.unsafe(`SELECT DISTINCT lease_owner AS o FROM ${table(t)} WHERE lease_owner IS NOT NULL`)).map(
        (r: { o: string }) => r.o,
      ),
    releaseOwner,
    async releaseAfterFault(t, id, owner, at) {
      const r = await sql.unsafe(
        `UPDATE ${table(t)} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $3
         WHERE id = $1 AND lease_owner = $2`,
        [id, owner, at],
      );
      return r.count === 1;
    },
    async claim(t, owner, until, now, limit) {
      if (limit <= 0) return [];
      const leaseSeconds = Math.max(1, until - now);
      return allRows(await sql.unsafe(claimStatement(table(t)), [owner, leaseSeconds, now, limit]));
    },
    nextDue: () => nextDue(sql),
  };
}
