// The data dir on disk: created private, checked writable before anything opens in it, and held by one serving
// process at a time. Every failure here is an operator's to fix, so each says what to do (exit 78 at the CLI).
import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { ConfigError } from "../config-error";
import { openDatabase, type Synchronous } from "./db";

export const databasePath = (dataDir: string) => join(dataDir, "gateway.sqlite");
const lockPath = (dataDir: string) => join(dataDir, "serve.lock");

/** A second `serve` on a data dir another process serves (its own exit code at the CLI). */
export class DataDirLocked extends Error {}

const reason = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);

/** Creates the data dir (0700) if needed and proves we can create files in it. */
export function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ConfigError(
      `cannot create the data dir ${dataDir} (${reason(e)}): choose a writable one with --data-dir or OC_DATA_DIR`,
    );
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new ConfigError(
      `the data dir ${dataDir} is not writable (${reason(e)}): fix its owner/permissions or choose another with ` +
        `--data-dir`,
    );
  }
}

/**
 * The database, its WAL and its shared-memory file are private to the gateway's user (SQLite gives -wal/-shm the db's
 * mode).
 */
function makePrivate(dbPath: string): void {
  if (!existsSync(dbPath)) closeSync(openSync(dbPath, "a", 0o600));
  for (const p of [dbPath, dbPath + "-wal", dbPath + "-shm"])
    if (existsSync(p) && (statSync(p).mode & 0o077) !== 0) {
      try {
        chmodSync(p, 0o600);
      } catch {
        // Not ours to change (another owner): the writability check below speaks for it.
      }
    }
}

/** Opens (creating if needed) the gateway database, refusing one we could read but not write. */
export function openGatewayDatabase(
  dataDir: string,
  synchronous: Synchronous,
  opts: { groupCommit?: boolean } = {},
): Database {
  const path = databasePath(dataDir);
  try {
    makePrivate(path);
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (e) {
    throw new ConfigError(
      `the database ${path} is not writable (${reason(e)}): fix its owner/permissions (chmod 600) or restore it`,
    );
  }
  let db: Database | undefined;
  try {
    db = openDatabase(path, synchronous, opts);
    probeWrite(db);
    return db;
  } catch (e) {
    db?.close();
    if (e instanceof ConfigError) throw e;
    const code = (e as { code?: string }).code ?? "";
    const what =
      code === "SQLITE_READONLY"
        ? "is read-only: fix its permissions or the file system's mount"
        : code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT"
          ? "is not a usable SQLite database: restore it from a backup (oc restore)"
          : code === "SQLITE_BUSY"
            ? "is locked by another process: stop it or wait"
            : `cannot be opened (${(e as Error).message})`;
    throw new ConfigError(`the database ${path} ${what}`);
  }
}

/** A real write (readiness and start-up): a database that only reads must never look healthy. */
export function probeWrite(db: Database): void {
  db.transaction(() => {
    db.query("INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at").run(
      Date.now(),
    );
  }).immediate();
}

export type DataDirLock = { release: () => void };

/**
 * One serving process per data dir: an exclusive SQLite lock on `serve.lock`, an OS file lock the kernel drops
 * when the process dies (even `kill -9`), so there is no stale lock file to clean up. CLI commands do not take it.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = lockPath(dataDir);
  let db: Database | undefined;
  try {
    if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
    db = new Database(path, { create: true });
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
    db.exec("COMMIT");
  } catch (e) {
    db?.close();
    if ((e as { code?: string }).code === "SQLITE_BUSY")
      throw new DataDirLocked(
        `another gateway is already serving the data dir ${dataDir}: stop it first, or give this one its own ` +
          `--data-dir`,
      );
    throw new ConfigError(`cannot lock the data dir ${dataDir} (${reason(e)}): check its permissions`);
  }
  const held = db;
  return { release: () => held.close() };
}

/** True while some process holds the data dir's serve lock (restore refuses then). */
export function isDataDirLocked(dataDir: string): boolean {
  if (!existsSync(lockPath(dataDir))) return false;
  try {
    lockDataDir(dataDir).release();
    return false;
  } catch (e) {
    if (e instanceof DataDirLocked) return true;
    throw e;
  }
}
