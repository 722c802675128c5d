// Issue 17 what one run of an outbound person-to-person transfer writes, on PostgreSQL (the SQLite twin:
// ../p2p-outbound.ts). Every update is fenced by the lease owner (and the row still pending): a claim by another
// node always changes lease_owner (./claims.ts never re-claims a row for the owner it expired under), so a run
// that lost its lease changes nothing.
import type { SQL } from "bun";
import { heldBy } from "./claims";
import type { Tx } from "../index";

export function pgP2pOutbound(sql: SQL): Tx["p2pOutbound"] {
  const changed = async (q: Promise<unknown[]>) => (await q).length === 1;
  return {
    paid: (id, owner, p) =>
      changed(sql`UPDATE p2p_transfers SET status = 'paid', state = 'done', txid = ${p.txid},
          proof_json = ${p.proofJson}, signature = ${p.signature}, attempts = attempts + 1, lease_owner = NULL,
          lease_until = NULL, last_error = NULL, updated_at = ${p.now}
        WHERE id = ${id} AND state = 'pending' AND ${heldBy(sql, owner)} RETURNING 1`),
    refunded: (id, owner, reason, now) =>
      changed(sql`UPDATE p2p_transfers SET status = 'refunded', state = 'failed', attempts = attempts + 1,
          last_error = ${reason}, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
        WHERE id = ${id} AND state = 'pending' AND pinned = 0 AND ${heldBy(sql, owner)} RETURNING 1`),
    retryLater: (id, owner, r) =>
      changed(sql`UPDATE p2p_transfers SET pinned = 1, attempts = attempts + 1, next_attempt_at = ${r.at},
          last_error = ${r.reason}, review_noted = ${r.reviewNoted}, lease_owner = NULL, lease_until = NULL,
          updated_at = ${r.now}
        WHERE id = ${id} AND state = 'pending' AND ${heldBy(sql, owner)} RETURNING 1`),
    toReview: (id, owner, reason, now) =>
      changed(sql`UPDATE p2p_transfers SET state = 'in_review', last_error = ${reason}, lease_owner = NULL,
          lease_until = NULL, updated_at = ${now}
        WHERE id = ${id} AND ${heldBy(sql, owner)} RETURNING 1`),
    release: (id, owner) =>
      changed(sql`UPDATE p2p_transfers SET lease_owner = NULL, lease_until = NULL
        WHERE id = ${id} AND lease_owner = ${owner} RETURNING 1`),
  };
}
