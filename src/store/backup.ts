// Online backup and restore (issue 15). A backup is `VACUUM INTO` a new private file: one consistent snapshot of
// the WAL database taken in a read transaction, so the server keeps serving (copying gateway.sqlite by hand
// loses whatever still sits in the WAL). Every copy is checked before it counts: integrity_check and the
// entry-level ledger reconciliation.
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { ConfigError } from "../config-error";
import { checkLedger } from "./ledger";
import { databasePath, isDataDirLocked, DataDirLocked } from "./data-dir";

export type BackupCheck = {
  integrity: string;
  ledger: { ok: boolean; problems: string[] };
  orders: number;
  bytes: number;
};

/** integrity_check and the full ledger check on a database file (opened read-only; never migrated). */
export function checkBackup(path: string): BackupCheck {
  if (!existsSync(path)) throw new ConfigError(`no such backup file: ${path}`);
  let db: Database;
  try {
    db = new Database(path, { readonly: true });
  } catch (e) {
    throw new ConfigError(`${path} cannot be opened as a SQLite database (${(e as Error).message})`);
  }
  try {
    const integrity = db
      .query<{ integrity_check: string }, []>("PRAGMA integrity_check")
      .all()
      .map((r) => r.integrity_check)
      .join("; ");
    const hasSchema = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'").get();
    if (!hasSchema) throw new ConfigError(`${path} is not a gateway database (no ledger)`);
    const orders = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM orders").get()!.n;
    return { integrity, ledger: checkLedger(db), orders, bytes: statSync(path).size };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${path} is not a usable gateway database (${(e as Error).message})`);
  } finally {
    db.close();
  }
}

export const backupOk = (c: BackupCheck) => c.integrity === "ok" && c.ledger.ok;

/** Snapshots the live database into `target` (must not exist), mode 0600, then checks the copy. */
export function backupDatabase(db: Database, target: string): BackupCheck {
  if (existsSync(target))
    throw new ConfigError(`${target} already exists: choose a new file name (a backup never overwrites)`);
  try {
    closeSync(openSync(target, "wx", 0o600)); // VACUUM INTO accepts an empty file; creating it first sets the mode
  } catch (e) {
    throw new ConfigError(
      `cannot create ${target} (${(e as NodeJS.ErrnoException).code}): check the directory exists and is writable`,
    );
  }
  try {
    db.query("VACUUM INTO ?").run(target);
  } catch (e) {
    rmSync(target, { force: true });
    throw new ConfigError(`backup into ${target} failed (${(e as Error).message})`);
  }
  return checkBackup(target);
}

/**
 * Replaces the data dir's database with a checked backup. Refuses while a gateway serves the dir; the database
 * it replaces is kept beside it (gateway.sqlite.before-restore-<time>), never deleted.
 */
export function restoreDatabase(
  dataDir: string,
  source: string,
  now = new Date(),
): { check: BackupCheck; keptAs?: string } {
  if (isDataDirLocked(dataDir))
    throw new DataDirLocked(`a gateway is serving ${dataDir}: stop it before restoring into it`);
  const check = checkBackup(source);
  if (!backupOk(check))
    throw new ConfigError(
      `${source} failed its checks (integrity: ${check.integrity}; ledger: ` +
        `${check.ledger.ok ? "ok" : check.ledger.problems.join("; ")}): not restored`,
    );
  const target = databasePath(dataDir);
  let keptAs: string | undefined;
  if (existsSync(target)) {
    keptAs = `${target}.before-restore-${now.toISOString().replace(/[:.]/g, "-")}`;
    // Fold the WAL into the old file first so the kept copy is whole.
    const old = new Database(target);
    old.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    old.close();
    renameSync(target, keptAs);
  }
  for (const side of ["-wal", "-shm"]) rmSync(target + side, { force: true });
  copyFileSync(source, target);
  chmodSync(target, 0o600);
  return { check, keptAs };
}
