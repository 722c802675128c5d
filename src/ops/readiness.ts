// GET /readyz: can this process take payments now? Each check names what is wrong so an operator (or a load
// balancer's log) knows what to fix.
import { accessSync, constants } from "node:fs";
import type { Gateway } from "../gateway";
import { databasePath } from "../store/data-dir";

/** A secp256k1 secret, and its uncompressed public key (x || y) in hex. */
const SECRET_KEY_BYTES = 32;
const PUBLIC_KEY_RE = /^[0-9a-f]{128}$/;

export type Readiness = { ready: boolean; checks: Record<string, string>; notReady: string[] };

export async function readiness(
  gw: Pick<Gateway, "config" | "key" | "store">,
  schedulerAlive: () => boolean,
): Promise<Readiness> {
  const checks: Record<string, string> = {};
  try {
    if (gw.store.engine === "sqlite") accessSync(databasePath(gw.config.dataDir), constants.W_OK);
    // A real write through the serving store (awaited: PostgreSQL answers later): read-only files, mounts, standbys,
    // read-only users and full disks fail here.
    await gw.store.probeWrite();
    checks.database = "ok";
  } catch (e) {
    checks.database = `not writable: ${(e as { code?: string }).code ?? (e as Error).message}`;
  }
  checks.scheduler = schedulerAlive() ? "ok" : "not running";
  const keyLoaded = gw.key.secret.length === SECRET_KEY_BYTES && PUBLIC_KEY_RE.test(gw.key.publicKeyHex);
  checks.key = keyLoaded ? "ok" : "not loaded";
  const notReady = Object.entries(checks)
    .filter(([, v]) => v !== "ok")
    .map(([k]) => k);
  return { ready: notReady.length === 0, checks, notReady };
}
