// The gateway's secp256k1 key (§3.1): from config/env, a named file, or generated once into the data dir (0600).
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "./protocol/keys";
import { ConfigError, type Config } from "./config";

export type GatewayKey = { secret: Uint8Array; publicKeyHex: string; source: string; warnings?: string[] };

export const defaultKeyPath = (dataDir: string) => join(dataDir, "gateway.key");

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
      throw new ConfigError(`cannot read key file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"}): fix its owner/permissions`);
    }
    source = path;
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077)
      warnings.push(`the key file ${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}): run chmod 600 ${path}`);
  }
  const secret = parsePrivateKey(hex.toLowerCase());
  if (!secret)
    throw new ConfigError(`the private key from ${source} is not 64 hex characters of a valid secp256k1 key: fix it, or generate one with \`oc keygen\``);
  return { secret, publicKeyHex: publicKeyHex(secret), source, warnings };
}
