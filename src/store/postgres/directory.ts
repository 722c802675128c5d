// §2.2/§2.4 the OCID directory and the persisted metadata cache on PostgreSQL (see ../directory.ts). The upserts
// are the same statements as SQLite's (ON CONFLICT … DO UPDATE reads alike in both dialects).
import type { SQL } from "bun";
import type { Tx } from "../index";
import { num } from "./rows";

export function pgDirectory(sql: SQL): Tx["directory"] {
  return {
    async value(ocid) {
      const [r] = await sql`SELECT value FROM directory WHERE ocid = ${ocid}`;
      return r ? r.value : null;
    },
    entries: async () =>
      (await sql`SELECT * FROM directory ORDER BY ocid`).map((r: Record<string, unknown>) => ({
        ocid: Number(r.ocid),
        value: r.value as string,
        source: r.source as string,
        addedAt: Number(r.added_at),
      })),
    async put(ocid, value, source, now) {
      await sql`INSERT INTO directory (ocid, value, source, added_at) VALUES (${ocid}, ${value}, ${source}, ${now})
        ON CONFLICT (ocid) DO UPDATE SET value = excluded.value, source = excluded.source`;
    },
    remove: async (ocid) => (await sql`DELETE FROM directory WHERE ocid = ${ocid}`).count > 0,
    async cached(ocid) {
      const [r] = await sql`SELECT document, fetched_at FROM metadata_cache WHERE ocid = ${ocid}`;
      return r ? { document: r.document, fetchedAt: Number(r.fetched_at) } : null;
    },
    async cachedAt(ocid) {
      const [r] = await sql`SELECT fetched_at FROM metadata_cache WHERE ocid = ${ocid}`;
      return r ? num(r.fetched_at) : null;
    },
    async dropCached(ocid) {
      await sql`DELETE FROM metadata_cache WHERE ocid = ${ocid}`;
    },
    async saveCached(ocid, document, now) {
      await sql`INSERT INTO metadata_cache (ocid, document, fetched_at) VALUES (${ocid}, ${document}, ${now})
        ON CONFLICT (ocid) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at`;
    },
  };
}
