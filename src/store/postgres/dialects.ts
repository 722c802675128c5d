// Issue 12 peer signature dialects on PostgreSQL (see ../dialects.ts): SQLite's `IS NOT` is `IS DISTINCT FROM`.
// The "last written per OCID" memory that saves a write per verified request is per process, as on SQLite, so it
// outlives one transaction: the engine passes one map for the store's lifetime (./repositories.ts).
import type { SQL } from "bun";
import type { Tx } from "../index";
import { effectiveDialect, type DialectRow, type Observed } from "../dialects";
import { pgRecordOrNull, pgRecords } from "./rows";

/** What this process last wrote per OCID (see ../dialects.ts `seen`). */
export type DialectMemory = Map<number, Observed>;

const CHANGED =
  "peer_dialects.encoding IS DISTINCT FROM excluded.encoding OR peer_dialects.hash IS DISTINCT FROM excluded.hash";

export function pgDialects(sql: SQL, seen: DialectMemory = new Map()): Tx["dialects"] {
  const get = async (ocid: number) =>
    pgRecordOrNull<DialectRow>(await sql`SELECT * FROM peer_dialects WHERE ocid = ${ocid}`);
  return {
    get,
    all: async () => pgRecords<DialectRow>(await sql`SELECT * FROM peer_dialects ORDER BY ocid`),
    signingFor: async (ocid) => effectiveDialect(await get(ocid)),
    async observe(ocid, d, what, now) {
      const prev = seen.get(ocid);
      const form = d.form ?? prev?.form;
      if (prev && prev.encoding === d.encoding && prev.hash === d.hash && prev.form === form) return false;
      const before = await get(ocid);
      await sql.unsafe(
        `INSERT INTO peer_dialects (ocid, form, encoding, hash, observed_in, observed_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (ocid) DO UPDATE SET
           learned_encoding = CASE WHEN ${CHANGED} THEN NULL ELSE peer_dialects.learned_encoding END,
           learned_hash = CASE WHEN ${CHANGED} THEN NULL ELSE peer_dialects.learned_hash END,
           form = COALESCE(excluded.form, peer_dialects.form), encoding = excluded.encoding, hash = excluded.hash,
           observed_in = excluded.observed_in, observed_at = excluded.observed_at`,
        [ocid, d.form ?? null, d.encoding, d.hash, what, now],
      );
      seen.set(ocid, { encoding: d.encoding, hash: d.hash, form: form ?? before?.form ?? undefined });
      return (
        !before ||
        before.encoding !== d.encoding ||
        before.hash !== d.hash ||
        (d.form !== undefined && before.form !== d.form)
      );
    },
    async learn(ocid, d, now) {
      await sql`INSERT INTO peer_dialects (ocid, learned_encoding, learned_hash, learned_at)
        VALUES (${ocid}, ${d.encoding}, ${d.hash}, ${now})
        ON CONFLICT (ocid) DO UPDATE SET learned_encoding = excluded.learned_encoding,
          learned_hash = excluded.learned_hash, learned_at = excluded.learned_at`;
    },
    async setOverride(ocid, o) {
      await sql`INSERT INTO peer_dialects (ocid, override_encoding, override_hash)
        VALUES (${ocid}, ${o.encoding}, ${o.hash})
        ON CONFLICT (ocid) DO UPDATE SET override_encoding = excluded.override_encoding,
          override_hash = excluded.override_hash`;
    },
  };
}
