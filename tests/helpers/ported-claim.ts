// The claim statement SQLite runs (src/store/leases.ts: UPDATE … WHERE id IN (SELECT … LIMIT n)), ported to
// PostgreSQL as is: the controls that show what the SKIP LOCKED claim (src/store/postgres/claims.ts) prevents run
// it in its place, tests/store/postgres-claims.test.ts through helpers/claim-worker.ts and
// tests/scale/three-nodes.test.ts through scale/ported-claim-preload.ts. One text for both, and no side effects,
// so both can import it.

/**
 * Same parameters as the real claimStatement ($1 owner, $2 lease seconds, $3 business now, $4 batch size, $5 the
 * claimer's own runs in flight); the text is SQLite's with ?N written $N, the JSON list an array, and its lease end
 * (?2, now + lease there) spelled out. `name` must already be a checked table name.
 */
export function portedClaimStatement(name: string): string {
  return `UPDATE ${name} SET lease_owner = $1, lease_until = $3::bigint + $2
    WHERE id IN (SELECT id FROM ${name} WHERE state = 'pending' AND next_attempt_at <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                   AND NOT (id = ANY($5::text[]))
                 ORDER BY next_attempt_at LIMIT $4)
    RETURNING *`;
}
