// The control of tests/scale/three-nodes.test.ts: a Bun --preload that swaps the PostgreSQL claim statement for the
// one SQLite runs (`UPDATE … WHERE id IN (SELECT … LIMIT n)`, src/store/leases.ts, ported as is), so the very same
// multi-node run shows what the SKIP LOCKED claim prevents. Why a preload and not a setting or an environment
// variable: the production code has no switch an operator could turn on by accident. This file exists only in the
// test tree and takes effect only when a process is started with `bun --preload <this file> src/main.ts …`; it
// rewrites src/store/postgres/claims.ts as Bun loads it (a runtime plugin) and refuses to start the process when
// that module no longer has the function it replaces, so the control can never silently run the real statement.
import { plugin } from "bun";

/** Appended to that module: its own table-name guard, then the ported text (helpers/ported-claim.ts). */
const PORTED = `
import { portedClaimStatement } from ${JSON.stringify(new URL("../helpers/ported-claim.ts", import.meta.url).pathname)};
export function claimStatement(t: ClaimTable): string {
  return portedClaimStatement(table(t));
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
