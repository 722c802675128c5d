// The control of tests/scale/three-nodes.test.ts: a Bun --preload that swaps the PostgreSQL claim statement for the
// one SQLite runs (`UPDATE … WHERE id IN (SELECT … LIMIT n)`, src/store/leases.ts, ported as is), so the very same
// multi-node run shows what the SKIP LOCKED claim prevents. Why a preload and not a setting or an environment
// variable: the production code has no switch an operator could turn on by accident. This file exists only in the
// test tree and takes effect only when a process is started with `bun --preload <this file> src/main.ts …`; it
// rewrites src/store/postgres/claims.ts as Bun loads it (a runtime plugin) and refuses to start the process when
// that module no longer has the function it replaces, so the control can never silently run the real statement.
import { plugin } from "bun";

/**
 * Same parameters as the real claimStatement ($1 owner, $2 lease seconds, $3 business now, $4 batch size, $5 the
 * claimer's own runs in flight); the text is src/store/leases.ts's SQLite claim with ?N written $N, the JSON list
 * an array, and its lease end (?2, now + lease there) spelled out.
 */
const PORTED = `
export function claimStatement(t: ClaimTable): string {
  const name = table(t); // the module's own table-name guard (this text is appended to that module)
  return \`UPDATE \${name} SET lease_owner = $1, lease_until = $3::bigint + $2
    WHERE id IN (SELECT id FROM \${name} WHERE state = 'pending' AND next_attempt_at <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                   AND NOT (id = ANY($5::text[]))
                 ORDER BY next_attempt_at LIMIT $4)
    RETURNING *\`;
}
console.error("CONTROL: the ported SQLite claim statement replaces FOR UPDATE SKIP LOCKED in this process");
`;

plugin({
  name: "ported-claim-statement",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]store[\\/]postgres[\\/]claims\.ts$/ }, async ({ path }) => {
      const text = await Bun.file(path).text();
      const renamed = text.replace("export function claimStatement(", "function skipLockedClaimStatement(");
      if (renamed === text) throw new Error(`control preload: ${path} has no claimStatement(t) any more; update it`);
      return { contents: renamed + PORTED, loader: "ts" };
    });
  },
});
