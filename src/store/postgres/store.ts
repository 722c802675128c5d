// The store's members beside its repositories, for a PostgreSQL store (the SQLite ones: ../index.ts createStore):
// readiness's real write, `oc backup`, close. The composition (pg-core's engine assembly) spreads these in.
import type { SQL } from "bun";
import type { BackupCheck } from "../backup";
import { ConfigError } from "../../config-error";
import { postgresIdentity } from "./identity";

/**
 * `oc backup` snapshots a SQLite file (VACUUM INTO) and checks the copy; a PostgreSQL database is backed up with
 * the server's own tools, which also give point-in-time recovery. Said as a ConfigError: one line, what to do.
 */
export const POSTGRES_BACKUP_ADVICE =
  "oc backup copies the embedded SQLite database; this gateway stores its data in PostgreSQL (OC_DATABASE_URL): " +
  'back it up with pg_dump (e.g. pg_dump --format=custom --file=gateway.dump "$OC_DATABASE_URL", restored with ' +
  "pg_restore), or with the server's continuous archiving (pg_basebackup + WAL archive) for point-in-time recovery";

/** `oc restore` replaces the data dir's SQLite file; a PostgreSQL database is restored with the server's tools. */
export const POSTGRES_RESTORE_ADVICE =
  "oc restore replaces the embedded SQLite database; this gateway stores its data in PostgreSQL (OC_DATABASE_URL): " +
  "stop every node, restore the database with pg_restore (or the server's point-in-time recovery), then start them";

export function postgresStoreMembers(sql: SQL) {
  return {
    /**
     * A real write (readiness), autocommitted on a pooled connection: a database that only reads (a standby, a
     * read-only user, default_transaction_read_only, a full disk) fails here and must never look healthy.
     */
    probeWrite: async (): Promise<void> => {
      await sql`INSERT INTO health_probe (id, at) VALUES (1, ${Date.now()})
        ON CONFLICT (id) DO UPDATE SET at = excluded.at`;
    },
    /** Refused: see POSTGRES_BACKUP_ADVICE. */
    backupInto: (target: string): BackupCheck => {
      void target;
      throw new ConfigError(POSTGRES_BACKUP_ADVICE);
    },
    close: (): Promise<void> => sql.close(),
    sharedIdentity: postgresIdentity(sql),
  };
}
