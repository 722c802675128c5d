// §12.4 leases on PostgreSQL (see ../leases.ts). Row claims are ./claims.ts's: a batch taken with FOR UPDATE SKIP
// LOCKED (concurrent claimers on several nodes take disjoint rows and never wait on each other; SQLite's statement,
// `UPDATE … WHERE id IN (SELECT … LIMIT n)`, double-claims here: tests/store/postgres-claims.test.ts), and the
// lease's end on the database clock, so nodes with skewed clocks agree when it is over. The caller's `until - now`
// is the lease's length; what is due (`next_attempt_at <= now`) stays on the gateway's clock, as every business
// time does. Renewals and fences compare with the database clock too, never with the caller's `now`.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { LEASED_TABLES, type LeasedTable } from "../leases";
import { claimStatement, heldByParam, nextDue, releaseAll, renewLeases } from "./claims";
import { pgRecords } from "./rows";

function table(t: LeasedTable): LeasedTable {
  if (!LEASED_TABLES.includes(t)) throw new Error(`not a leased table: ${String(t)}`);
  return t;
}

/** A lease's length from the port's (until, now) pair: at least a second. */
const lengthOf = (until: number, now: number) => Math.max(1, until - now);

export function pgLeases(sql: SQL): Tx["leases"] {
  return {
    async releaseAll(owner) {
      for (const t of LEASED_TABLES) await releaseAll(sql, t, owner);
    },
    async releaseStale(prefix, keep) {
      let n = 0;
      for (const t of LEASED_TABLES)
        n += (
          await sql.unsafe(
            `UPDATE ${table(t)} SET lease_owner = NULL, lease_until = NULL
             WHERE starts_with(lease_owner, $1) AND strpos(lease_owner, $2) = 0`,
            [prefix, keep],
          )
        ).count;
      return n;
    },
    owners: async (t) =>
      (await sql.unsafe(`SELECT DISTINCT lease_owner AS o FROM ${table(t)} WHERE lease_owner IS NOT NULL`)).map(
        (r: { o: string }) => r.o,
      ),
    async releaseAfterFault(t, id, owner, at) {
      const r = await sql.unsafe(
        `UPDATE ${table(t)} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $3
         WHERE id = $1 AND lease_owner = $2`,
        [id, owner, at],
      );
      return r.count === 1;
    },
    async claim(t, owner, until, now, limit, running = []) {
      if (limit <= 0) return [];
      const args = [owner, lengthOf(until, now), now, limit, running];
      return pgRecords(await sql.unsafe(claimStatement(table(t)), args));
    },
    renew: (t, owner, ids, until, now) =>
      renewLeases(sql, table(t), { owner, ids, leaseSeconds: lengthOf(until, now) }),
    // FOR UPDATE: the row stays locked to this transaction until it commits, so no claim (SKIP LOCKED) can take it
    // between this check and the commit of the writes it fences.
    async holds(t, id, owner) {
      const held = `SELECT id FROM ${table(t)} WHERE id = $1 AND ${heldByParam("$2")} FOR UPDATE`;
      const rows = await sql.unsafe(held, [id, owner]);
      return rows.length === 1;
    },
    nextDue: () => nextDue(sql),
  };
}
