// Issue 18: several nodes on one PostgreSQL database are one gateway, so they must sign with one key under one OCID
// (a peer verifies every response and proof against the single public key our metadata publishes). The database
// records both at the first start; every later start (and every CLI command) of any node compares its own, and a
// node with another is refused before it serves, with what to do. `oc keys rotate` replaces the recorded key and
// keeps the one it replaced, so every node publishes the same previousKey for the grace period.
import type { SQL } from "bun";
import { ConfigError } from "../../config-error";

export type NodeIdentity = { ocid: number; publicKeyHex: string };
/** `previous`: the key the last rotation replaced and when (src/keyfile.ts PreviousKey, the same shape). */
export type RecordedIdentity = NodeIdentity & { previous?: { publicKeyHex: string; rotatedAt: number } };

type Row = { ocid: bigint; public_key: string; previous_key: string | null; rotated_at: bigint | null };

const recorded = (r: Row): RecordedIdentity => ({
  ocid: Number(r.ocid),
  publicKeyHex: r.public_key,
  previous: r.previous_key === null ? undefined : { publicKeyHex: r.previous_key, rotatedAt: Number(r.rotated_at) },
});

/** The identity statements of one database (the pool: each is one autocommitted statement or transaction). */
export function postgresIdentity(sql: SQL) {
  return {
    /**
     * Records `mine` if no node did yet (two first starts at once: the primary key lets one win) and answers what
     * the database holds. Refuses, as a ConfigError, a node whose OCID or key differs from the recorded one.
     */
    async bind(mine: NodeIdentity, now: number): Promise<RecordedIdentity> {
      const read = async () =>
        (await sql`SELECT ocid, public_key, previous_key, rotated_at FROM gateway_identity WHERE id = 1`)[0] as
          | Row
          | undefined;
      // Written only at the first start: a later one only reads (on a read-only database /readyz says so).
      let row = await read();
      if (!row) {
        await sql`INSERT INTO gateway_identity (id, ocid, public_key, recorded_at)
          VALUES (1, ${mine.ocid}, ${mine.publicKeyHex}, ${now}) ON CONFLICT (id) DO NOTHING`;
        row = (await read())!;
      }
      const theirs = recorded(row);
      refuseOtherIdentity(theirs, mine);
      return theirs;
    },
    /** `oc keys rotate`: the recorded key becomes `to`, `from` its previous key; false if `from` was not recorded. */
    async rotate(from: string, to: string, rotatedAt: number): Promise<boolean> {
      const rows = await sql`UPDATE gateway_identity SET public_key = ${to}, previous_key = ${from},
        rotated_at = ${rotatedAt} WHERE id = 1 AND public_key = ${from} RETURNING id`;
      return rows.length === 1;
    },
  };
}
export type SharedIdentity = ReturnType<typeof postgresIdentity>;

const short = (hex: string) => `${hex.slice(0, 16)}…`;

/** What an operator reads when a node's OCID or key is not the one the database records (exit 78). */
export function refuseOtherIdentity(theirs: NodeIdentity, mine: NodeIdentity): void {
  if (theirs.ocid !== mine.ocid)
    throw new ConfigError(
      `this database belongs to the gateway with OCID ${theirs.ocid}, but this node is configured as OCID ` +
        `${mine.ocid}: every node on one database is one gateway; set ocid (OC_OCID) to ${theirs.ocid} on every node`,
    );
  if (theirs.publicKeyHex !== mine.publicKeyHex)
    throw new ConfigError(
      `this database belongs to the gateway whose public key is ${short(theirs.publicKeyHex)}, but this node's key ` +
        `is ${short(mine.publicKeyHex)}: every node must sign with the same key. Give each node the key file the ` +
        "others use (privateKeyFile / OC_PRIVATE_KEY_FILE, or the same privateKey / OC_PRIVATE_KEY); after `oc keys " +
        "rotate`, copy the new key file to every node before starting it",
    );
}
