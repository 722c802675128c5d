// Issue 17: what one run of an outbound person-to-person transfer writes (src/settlement/p2p-send.ts). Every
// update is leased: it applies only while `owner` validly holds the row's lease (../leases.ts) and the row is
// still pending.
import type { Database } from "bun:sqlite";

export function p2pOutbound(db: Database) {
  const paid = db.query(
    `UPDATE p2p_transfers SET status = 'paid', state = 'done', txid = ?3, proof_json = ?4, signature = ?5,
       attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = ?6
     WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2 AND lease_until >= ?6`,
  );
  const refunded = db.query(
    `UPDATE p2p_transfers SET status = 'refunded', state = 'failed', attempts = attempts + 1, last_error = ?3,
       lease_owner = NULL, lease_until = NULL, updated_at = ?4
     WHERE id = ?1 AND state = 'pending' AND pinned = 0 AND lease_owner = ?2 AND lease_until >= ?4`,
  );
  const retry = db.query(
    `UPDATE p2p_transfers SET pinned = 1, attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4,
       review_noted = ?5, lease_owner = NULL, lease_until = NULL, updated_at = ?6
     WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2 AND lease_until >= ?6`,
  );
  const review = db.query(
    `UPDATE p2p_transfers SET state = 'in_review', last_error = ?3, lease_owner = NULL, lease_until = NULL,
       updated_at = ?4
     WHERE id = ?1 AND lease_owner = ?2 AND lease_until >= ?4`,
  );
  const release = db.query(
    "UPDATE p2p_transfers SET lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?2",
  );
  return {
    paid: (id: string, owner: string, p: { txid: string; proofJson: string; signature: string; now: number }) =>
      paid.run(id, owner, p.txid, p.proofJson, p.signature, p.now).changes === 1,
    /** Only an unpinned transfer is refunded: after an unknown outcome the money may have moved. */
    refunded: (id: string, owner: string, reason: string, now: number) =>
      refunded.run(id, owner, reason, now).changes === 1,
    /** Pinned from now on; `reviewNoted` records that the overdue anomaly was written once. */
    retryLater: (id: string, owner: string, r: { at: number; reason: string; reviewNoted: number; now: number }) =>
      retry.run(id, owner, r.at, r.reason, r.reviewNoted, r.now).changes === 1,
    toReview: (id: string, owner: string, reason: string, now: number) =>
      review.run(id, owner, reason, now).changes === 1,
    release: (id: string, owner: string) => release.run(id, owner).changes === 1,
  };
}
export type P2pOutbound = ReturnType<typeof p2pOutbound>;
