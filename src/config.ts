// Settings (§16): embedded defaults < config file (OC_CONFIG, JSON) < environment (OC_*) < command-line flags.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export type RateLimits = { perIp: number; perOcid: number; perToken: number; payPerUser: number };

export type Config = {
  dataDir: string;
  host: string;
  port: number;
  publicUrl: string;
  /** True when publicUrl was derived from host and port (so a port chosen by the OS must be written into it). */
  publicUrlDerived?: boolean;
  basePath: string;
  /** `publicUrl + basePath`, no trailing slash: what we publish as config.endpoint (§1). */
  endpoint: string;
  webBaseUrl: string;
  ocid: number;
  name: string;
  profile?: string;
  icon?: string;
  contact?: string;
  privateKey?: string;
  privateKeyFile?: string;
  currencies: { enabled: string[]; extra: Record<string, number> };
  acceptIssuers: number[];
  partners: { ocid: number; reserveCurrencies: string[] }[];
  providers: { ocid: number; currencies: string[] }[];
  checkoutCallers: number[];
  directory: { entries: Record<string, string>; rpcUrl?: string; registryAddress?: string };
  outboundAllowlist: string[];
  acceptReplacerCanonical: boolean;
  authWindow: number;
  maxBodyBytes: number;
  metadataTtl: number;
  sessionTtl: number;
  maxPendingSessions: number;
  confirmWindow: number;
  checkoutTtl: number;
  settlementDeadline: number;
  webhookMaxAge: number;
  tokenTtl?: number;
  rateLimits: RateLimits;
  demoMode: boolean;
  demoBalance: string[];
  app: { corsOrigins: string[] };
  sqliteSynchronous: "FULL" | "NORMAL";
  /** Signature verification threads while serving (0 = on the event loop). */
  verifyWorkers: number;
  /** §4.6 outbound timeouts (ms): settlement calls and webhook deliveries. */
  outboundTimeouts: { settlementMs: number; webhookMs: number };
  /** Advanced: global scheduler lease and per-job lease, seconds (§16: 30 / 60). */
  scheduler: { leaseSeconds: number; jobLeaseSeconds: number };
  logLevel: "debug" | "info" | "warn" | "error";
};

export const DEFAULTS = {
  dataDir: "./data",
  host: "127.0.0.1",
  port: 8080,
  basePath: "/opencharge",
  ocid: 200,
  name: "Opencharge Gateway",
  currencies: { enabled: ["USD", "EUR"], extra: {} },
  acceptIssuers: [],
  partners: [],
  providers: [],
  checkoutCallers: [],
  directory: { entries: {} },
  outboundAllowlist: [],
  acceptReplacerCanonical: true,
  authWindow: 300,
  maxBodyBytes: 64 * 1024,
  metadataTtl: 300,
  sessionTtl: 300,
  maxPendingSessions: 5,
  confirmWindow: 600,
  checkoutTtl: 1800,
  settlementDeadline: 900,
  webhookMaxAge: 72 * 3600,
  rateLimits: { perIp: 600, perOcid: 300, perToken: 120, payPerUser: 30 },
  demoMode: false,
  demoBalance: ["USD:100.00", "EUR:100.00"],
  app: { corsOrigins: [] },
  sqliteSynchronous: "FULL",
  scheduler: { leaseSeconds: 30, jobLeaseSeconds: 60 },
  outboundTimeouts: { settlementMs: 15_000, webhookMs: 10_000 },
  verifyWorkers: 1,
  logLevel: "info",
} satisfies Partial<Config>;

export type ConfigInput = Partial<Omit<Config, "directory" | "endpoint">> & {
  directory?: Record<string, string> & { rpcUrl?: string; registryAddress?: string };
  configFile?: string;
};

export class ConfigError extends Error {}

function csv(v: string): string[] {
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

function intOrThrow(name: string, v: unknown, min = 0): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}`);
  return n;
}

function fromEnv(env: Record<string, string | undefined>): ConfigInput {
  const out: ConfigInput = {};
  if (env.OC_DATA_DIR) out.dataDir = env.OC_DATA_DIR;
  if (env.OC_HOST) out.host = env.OC_HOST;
  if (env.OC_PORT) out.port = intOrThrow("OC_PORT", env.OC_PORT);
  if (env.OC_PUBLIC_URL) out.publicUrl = env.OC_PUBLIC_URL;
  if (env.OC_OCID) out.ocid = intOrThrow("OC_OCID", env.OC_OCID, 1);
  if (env.OC_ALLOW_PRIVATE !== undefined) out.outboundAllowlist = csv(env.OC_ALLOW_PRIVATE);
  if (env.OC_PRIVATE_KEY) out.privateKey = env.OC_PRIVATE_KEY;
  if (env.OC_PRIVATE_KEY_FILE) out.privateKeyFile = env.OC_PRIVATE_KEY_FILE;
  if (env.OC_LOG_LEVEL) out.logLevel = env.OC_LOG_LEVEL as Config["logLevel"];
  return out;
}

function readConfigFile(path: string): ConfigInput {
  if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ConfigInput;
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** With `port: 0` the OS picks a port; URLs derived from host:port must name the real one. */
export function withPort(c: Config, port: number): Config {
  if (!c.publicUrlDerived) return { ...c, port };
  const publicUrl = `http://${c.host}:${port}`;
  const webBaseUrlDerived = c.webBaseUrl === new URL(c.publicUrl).origin;
  return { ...c, port, publicUrl, endpoint: publicUrl + c.basePath, webBaseUrl: webBaseUrlDerived ? new URL(publicUrl).origin : c.webBaseUrl };
}

/** Merge layers (later wins) and derive endpoint/publicUrl; throws ConfigError with a readable message. */
export function loadConfig(
  opts: { env?: Record<string, string | undefined>; flags?: ConfigInput; overrides?: ConfigInput } = {},
): Config {
  const env = opts.env ?? process.env;
  const file = opts.flags?.configFile ?? env.OC_CONFIG;
  const layers: ConfigInput[] = [file ? readConfigFile(file) : {}, fromEnv(env), opts.flags ?? {}, opts.overrides ?? {}];
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) if (v !== undefined && k !== "configFile") merged[k] = v;
  const c = merged as unknown as Config & { directory: Record<string, unknown> };

  const port = intOrThrow("port", c.port);
  if (port > 65535) throw new ConfigError("port must be ≤ 65535");
  const basePath = "/" + String(c.basePath).replace(/^\/+|\/+$/g, "");
  const publicUrl = String(c.publicUrl ?? `http://${c.host}:${port}`).replace(/\/+$/, "");
  const publicUrlDerived = c.publicUrl === undefined;
  if (!URL.canParse(publicUrl)) throw new ConfigError(`publicUrl is not a URL: ${publicUrl}`);

  const rawDir = (c.directory ?? {}) as Record<string, unknown>;
  const entries: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawDir)) {
    if (k === "rpcUrl" || k === "registryAddress" || k === "entries") continue;
    if (!/^[1-9][0-9]{0,15}$/.test(k) || typeof v !== "string") throw new ConfigError(`directory entry ${k} must map an OCID to a URL`);
    entries[k] = v;
  }
  if (rawDir.entries && typeof rawDir.entries === "object") Object.assign(entries, rawDir.entries);

  // Demo mode is a local trial: peers (the demo merchant) live on this machine.
  const outboundAllowlist = c.demoMode && (c.outboundAllowlist ?? []).length === 0 ? ["127.0.0.0/8", "::1/128", "localhost"] : c.outboundAllowlist;

  return {
    ...(c as Config),
    publicUrlDerived,
    outboundAllowlist,
    dataDir: resolve(String(c.dataDir)),
    port,
    publicUrl,
    basePath,
    endpoint: publicUrl + basePath,
    webBaseUrl: String(c.webBaseUrl ?? new URL(publicUrl).origin).replace(/\/+$/, ""),
    ocid: intOrThrow("ocid", c.ocid, 1),
    rateLimits: { ...DEFAULTS.rateLimits, ...(c.rateLimits ?? {}) },
    scheduler: { ...DEFAULTS.scheduler, ...(c.scheduler ?? {}) },
    outboundTimeouts: { ...DEFAULTS.outboundTimeouts, ...(c.outboundTimeouts ?? {}) },
    currencies: { ...DEFAULTS.currencies, ...(c.currencies ?? {}) },
    directory: {
      entries,
      rpcUrl: typeof rawDir.rpcUrl === "string" ? rawDir.rpcUrl : undefined,
      registryAddress: typeof rawDir.registryAddress === "string" ? rawDir.registryAddress : undefined,
    },
  };
}
