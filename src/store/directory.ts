// §2.2/§2.4: the operator's OCID directory and the last good metadata per OCID (the in-memory cache sits in front).
import type { Database } from "bun:sqlite";

export type DirectoryEntry = { ocid: number; value: string; source: string; addedAt: number };
export type CachedMetadata = { document: string; fetchedAt: number };

export function directory(db: Database) {
  const get = db.query<{ value: string }, [number]>("SELECT value FROM directory WHERE ocid = ?");
  const list = db.query<{ ocid: number; value: string; source: string; added_at: number }, []>(
    "SELECT * FROM directory ORDER BY ocid",
  );
  const put = db.query(
    `INSERT INTO directory (ocid, value, source, added_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (ocid) DO UPDATE SET value = excluded.value, source = excluded.source`,
  );
  const del = db.query("DELETE FROM directory WHERE ocid = ?");
  const loadCache = db.query<{ document: string; fetched_at: number }, [number]>(
    "SELECT document, fetched_at FROM metadata_cache WHERE ocid = ?",
  );
  const dropCache = db.query("DELETE FROM metadata_cache WHERE ocid = ?");
  const cachedAt = db.query<{ fetched_at: number }, [number]>("SELECT fetched_at FROM metadata_cache WHERE ocid = ?");
  const saveCache = db.query(
    `INSERT INTO metadata_cache (ocid, document, fetched_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (ocid) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at`,
  );
  return {
    value: (ocid: number): string | null => get.get(ocid)?.value ?? null,
    entries: (): DirectoryEntry[] =>
      list.all().map((r) => ({ ocid: r.ocid, value: r.value, source: r.source, addedAt: r.added_at })),
    put: (ocid: number, value: string, source: string, now: number): void => void put.run(ocid, value, source, now),
    remove: (ocid: number): boolean => del.run(ocid).changes > 0,
    cached(ocid: number): CachedMetadata | null {
      const r = loadCache.get(ocid);
      return r ? { document: r.document, fetchedAt: r.fetched_at } : null;
    },
    /** When the persisted copy was fetched (another process may have replaced or dropped it). */
    cachedAt: (ocid: number): number | null => cachedAt.get(ocid)?.fetched_at ?? null,
    dropCached: (ocid: number): void => void dropCache.run(ocid),
    saveCached: (ocid: number, document: string, now: number): void => void saveCache.run(ocid, document, now),
  };
}
export type DirectoryStore = ReturnType<typeof directory>;
