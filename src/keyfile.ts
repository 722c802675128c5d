// The gateway's secp256k1 key (§3.1): from config/env, a named file, or generated once into the data dir (0600).
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "./protocol/keys";
import { ConfigError, type Config } from "./config";

/** The key we signed with before the last `oc keys rotate`: its public half only (the secret is not kept). */
export type PreviousKey = { publicKeyHex: string; rotatedAt: number };

export type GatewayKey = {
  secret: Uint8Array;
  publicKeyHex: string;
  source: string;
  warnings?: string[];
  previous?: PreviousKey;
};

export const defaultKeyPath = (dataDir: string) => join(dataDir, "gateway.key");
const previousKeyPath = (dataDir: string) => join(dataDir, "gateway.key.previous.json");

function readPrevious(dataDir: string): PreviousKey | undefined {
  const path = previousKeyPath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    const p = JSON.parse(readFileSync(path, "utf8")) as { publicKey?: unknown; rotatedAt?: unknown };
    if (typeof p.publicKey === "string" && /^[0-9a-f]{128}$/.test(p.publicKey) && Number.isSafeInteger(p.rotatedAt))
      return { publicKeyHex: p.publicKey, rotatedAt: p.rotatedAt as number };
  } catch {
    // fall through
  }
  throw new ConfigError(
    `${path} is not a previous-key record ({"publicKey","rotatedAt"}): remove it or restore it from a backup`,
  );
}

/**
 * `oc keys rotate`: a new key in the key file (written 0600, renamed into place); the old public key and the
 * moment of rotation go to gateway.key.previous.json, which the metadata publishes for `keyRotationGrace`.
 */
export function rotateKey(config: Config, now: number): { previous: PreviousKey; publicKeyHex: string } {
  if (config.privateKey)
    throw new ConfigError(
      "the key comes from the configuration (privateKey / OC_PRIVATE_KEY): rotation works on a key file only",
    );
  const path = config.privateKeyFile ?? defaultKeyPath(config.dataDir);
  const current = loadOrCreateKey(config, { create: false });
  const fresh = generatePrivateKeyHex();
  const previous = { publicKeyHex: current.publicKeyHex, rotatedAt: now };
  const tmpPrev = previousKeyPath(config.dataDir) + ".tmp";
  writeFileSync(tmpPrev, JSON.stringify({ publicKey: previous.publicKeyHex, rotatedAt: now }) + "\n", { mode: 0o600 });
  const tmpKey = path + ".tmp";
  writeFileSync(tmpKey, fresh + "\n", { mode: 0o600 });
  chmodSync(tmpKey, 0o600);
  renameSync(tmpPrev, previousKeyPath(config.dataDir));
  renameSync(tmpKey, path);
  return { previous, publicKeyHex: publicKeyHex(parsePrivateKey(fresh)!) };
}

export function loadOrCreateKey(config: Config, opts: { create: boolean } = { create: true }): GatewayKey {
  let hex: string;
  let source: string;
  const warnings: string[] = [];
  if (config.privateKey) {
    hex = config.privateKey.trim();
    source = "config";
  } else {
    const path = config.privateKeyFile ?? defaultKeyPath(config.dataDir);
    if (!existsSync(path)) {
      if (!opts.create || config.privateKeyFile) throw new ConfigError(`key file not found: ${path}`);
      writeFileSync(path, generatePrivateKeyHex() + "\n", { mode: 0o600 });
      chmodSync(path, 0o600);
    }
    try {
      hex = readFileSync(path, "utf8").trim();
    } catch (e) {
      throw new ConfigError(
        `cannot read key file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"}): fix its owner/permissions`,
      );
    }
    source = path;
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077)
      warnings.push(
        `the key file ${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}): run chmod 600 ${path}`,
      );
  }
  const secret = parsePrivateKey(hex.toLowerCase());
  if (!secret)
    throw new ConfigError(
      `the private key from ${source} is not 64 hex characters of a valid secp256k1 key: fix it, or generate one ` +
        `with \`oc keygen\``,
    );
  return { secret, publicKeyHex: publicKeyHex(secret), source, warnings, previous: readPrevious(config.dataDir) };
}
