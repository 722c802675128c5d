// Settings (§16): embedded defaults < config file (OC_CONFIG, JSON) < environment (OC_*) < command-line flags.
// One TypeBox schema is the single source of the settings, their defaults, the `Config` type, the `OC_*` names and
// the validation: adding a setting is one line in SETTINGS.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Type as T, Kind, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { buildCurrencyTable, MAX_EXPONENT } from "./protocol/currencies";
import { isAmountSyntax } from "./protocol/money";
import { parseTiers } from "./domain/tiers";
import { parseAllowlist } from "./peers/ssrf";

const MAX_OCID = Number.MAX_SAFE_INTEGER;
const Ocid = T.Integer({ minimum: 1, maximum: MAX_OCID });
const Seconds = (def: number, minimum = 1) => T.Integer({ minimum, default: def });
const CurrencyCode = T.String({ pattern: "^[A-Z]{3,5}$", description: "a currency code (3-5 capital letters)" });
const Url = T.String({ minLength: 1, description: "an http(s) URL" });

export const RateLimitsSchema = T.Object(
  {
    perIp: T.Integer({ minimum: 0, default: 600 }),
    perOcid: T.Integer({ minimum: 0, default: 300 }),
    perToken: T.Integer({ minimum: 0, default: 120 }),
    payPerUser: T.Integer({ minimum: 0, default: 30 }),
    /** Demo mode only: funded users minted per client address per minute. */
    demoLoginPerIp: T.Integer({ minimum: 0, default: 10 }),
  },
  { default: {} },
);
export type RateLimits = Static<typeof RateLimitsSchema>;

/** Every setting an operator may write in the config file (names of SPEC §16), with its default. */
export const SETTINGS = T.Object({
  dataDir: T.String({ minLength: 1, default: "./data" }),
  host: T.String({ minLength: 1, default: "127.0.0.1" }),
  port: T.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  publicUrl: T.Optional(Url),
  basePath: T.String({ default: "/opencharge" }),
  webBaseUrl: T.Optional(Url),
  ocid: T.Integer({ minimum: 1, maximum: MAX_OCID, default: 200 }),
  name: T.String({ minLength: 1, maxLength: 256, default: "Opencharge Gateway" }),
  profile: T.Optional(T.String()),
  icon: T.Optional(T.String()),
  contact: T.Optional(T.String()),
  privateKey: T.Optional(T.String({ description: "64 hex characters" })),
  privateKeyFile: T.Optional(T.String({ minLength: 1 })),
  /** Seconds after `oc keys rotate` during which the metadata still publishes the previous key (default 7 days). */
  keyRotationGrace: Seconds(7 * 86400, 0),
  currencies: T.Object(
    {
      enabled: T.Array(CurrencyCode, { minItems: 1, default: ["USD", "EUR"] }),
      extra: T.Record(T.String(), T.Integer({ minimum: 0, maximum: MAX_EXPONENT }), { default: {} }),
    },
    { default: {} },
  ),
  acceptIssuers: T.Array(Ocid, { default: [] }),
  partners: T.Array(T.Object({ ocid: Ocid, reserveCurrencies: T.Array(CurrencyCode) }), { default: [] }),
  providers: T.Array(T.Object({ ocid: Ocid, currencies: T.Array(CurrencyCode) }), { default: [] }),
  checkoutCallers: T.Array(Ocid, { default: [] }),
  // {"500": "https://merchant.example/opencharge", "rpcUrl": …, "registryAddress": …} (or {"entries": {…}}).
  directory: T.Record(T.String(), T.Union([T.String(), T.Record(T.String(), T.String())]), {
    default: {},
    description: 'an object mapping OCIDs to URLs, plus optional "rpcUrl" and "registryAddress"',
  }),
  outboundAllowlist: T.Array(T.String({ minLength: 1 }), { default: [] }),
  /** Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client for per-address limits. */
  trustedProxies: T.Array(T.String({ minLength: 1 }), { default: [] }),
  acceptReplacerCanonical: T.Boolean({ default: true }),
  authWindow: Seconds(300),
  maxBodyBytes: T.Integer({ minimum: 1024, default: 64 * 1024 }),
  metadataTtl: Seconds(300),
  sessionTtl: Seconds(300),
  maxPendingSessions: T.Integer({ minimum: 1, default: 5 }),
  confirmWindow: Seconds(600),
  checkoutTtl: Seconds(1800),
  settlementDeadline: Seconds(900),
  webhookMaxAge: Seconds(72 * 3600),
  tokenTtl: T.Optional(T.Integer({ minimum: 1 })),
  /** Sign-in sessions (issue 22), seconds: absolute lifetime, idle timeout, and how long an enrolment link lasts. */
  sessions: T.Object(
    {
      ttl: T.Integer({ minimum: 60, default: 12 * 3600 }),
      idleTimeout: T.Integer({ minimum: 60, default: 30 * 60 }),
      enrolTtl: T.Integer({ minimum: 60, default: 24 * 3600 }),
    },
    { default: {} },
  ),
  rateLimits: RateLimitsSchema,
  demoMode: T.Boolean({ default: false }),
  demoBalance: T.Array(T.String({ pattern: "^[A-Z]{3,5}:[0-9]+(\\.[0-9]+)?$", description: '"CUR:AMOUNT"' }), {
    default: ["USD:100.00", "EUR:100.00"],
  }),
  app: T.Object({ corsOrigins: T.Array(T.String(), { default: [] }) }, { default: {} }),
  /**
   * Issue 18: a postgres:// URL puts the store on PostgreSQL (its schema created on an empty database at start,
   * shared by every node that names it); unset, the store is SQLite in the data dir.
   */
  databaseUrl: T.Optional(
    // `secret`: a URL may carry a password, so a refusal names the setting but never echoes its value.
    T.String({ pattern: "^postgres(ql)?://", description: "a postgres:// or postgresql:// URL", secret: true }),
  ),
  sqliteSynchronous: T.Union([T.Literal("FULL"), T.Literal("NORMAL")], { default: "FULL" }),
  /**
   * With FULL, while serving: one fsync of the -wal shared by every commit that arrives together, awaited before
   * anything is answered or sent (src/store/durability.ts); false = SQLite's own fsync at every COMMIT. Either way
   * nothing acknowledged is lost on power loss.
   */
  sqliteGroupCommit: T.Boolean({ default: true }),
  /**
   * The write transactions waiting for the connection run as one SQLite transaction (up to 32, each in its own
   * savepoint, so a failing one undoes only its own work; each answered after the shared COMMIT); false = one
   * SQLite transaction per store transaction (src/store/sqlite-engine.ts).
   */
  sqliteBatchTransactions: T.Boolean({ default: true }),
  /** Signature verification threads while serving (0 = on the event loop). */
  verifyWorkers: T.Integer({ minimum: 0, maximum: 64, default: 1 }),
  /**
   * Protocol responses signed on those threads too (§4.5) while they have no backlog: with one worker the two
   * threads then split the work about evenly (bench/variants.ts: best of inline, 1 or 2 workers, signing or not).
   */
  signOnWorkers: T.Boolean({ default: true }),
  /** §4.6 outbound timeouts (ms): settlement calls and webhook deliveries. */
  outboundTimeouts: T.Object(
    {
      settlementMs: T.Integer({ minimum: 1, default: 15_000 }),
      webhookMs: T.Integer({ minimum: 1, default: 10_000 }),
    },
    { default: {} },
  ),
  /**
   * Issue 18: this node's stable name among the gateways on one database; its scheduler's leases are owned as
   * `<nodeId>:<incarnation>:…`, and a restart gives up its previous incarnations' leases at once. Unset:
   * `<host>-<port>`. On PostgreSQL two live nodes with one nodeId are refused (the second does not start).
   */
  nodeId: T.Optional(T.String({ pattern: "^[A-Za-z0-9._-]{1,64}$", description: "1-64 of A-Z a-z 0-9 . _ -" })),
  /**
   * Advanced: the scheduler's pass interval when idle (`leaseSeconds`, once the global lease's length, kept for
   * existing configs: a pass comes every third of it) and a claimed row's lease, renewed every third of it while
   * its run is in flight (§16: 30 / 60).
   */
  scheduler: T.Object({ leaseSeconds: Seconds(30), jobLeaseSeconds: Seconds(60) }, { default: {} }),
  /**
   * Issue 21: KYC tiers and the providers that verify users for them. `tiers` go from lowest (every user's start)
   * to highest; a user is in the highest tier whose `grants` are all verified and unexpired. Limits are decimal
   * strings per currency; an absent limit does not apply.
   */
  kyc: T.Object(
    {
      providers: T.Array(Ocid, { default: [] }),
      tiers: T.Array(
        T.Object({
          name: T.String({ pattern: "^[a-z0-9_-]{1,32}$", description: "a tier name (a-z, 0-9, _ or -)" }),
          grants: T.Array(T.String({ pattern: "^[a-z0-9_.-]{1,64}$" }), { default: [] }),
          limits: T.Record(
            T.String(),
            T.Object({
              perPayment: T.Optional(T.String()),
              perDay: T.Optional(T.String()),
              maxBalance: T.Optional(T.String()),
            }),
            { default: {} },
          ),
        }),
        { default: [] },
      ),
      /** Seconds a KYC `state` stays usable between /app/kyc/start and the provider's callback. */
      stateTtl: Seconds(900),
    },
    { default: {} },
  ),
  logLevel: T.Union([T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")], {
    default: "info",
  }),
  /**
   * GET /metrics: with `port`, served only on that separate listener (`host`, default loopback) and not on the
   * public one; with `token`, only to `Authorization: Bearer <token>`.
   */
  metrics: T.Object(
    {
      port: T.Optional(T.Integer({ minimum: 0, maximum: 65535 })),
      host: T.String({ minLength: 1, default: "127.0.0.1" }),
      token: T.Optional(T.String({ minLength: 16, description: "a secret of at least 16 characters" })),
    },
    { default: {} },
  ),
});
export type Settings = Static<typeof SETTINGS>;

export type Config = Omit<Settings, "directory" | "publicUrl" | "webBaseUrl"> & {
  publicUrl: string;
  /** True when publicUrl was derived from host and port (so a port chosen by the OS must be written into it). */
  publicUrlDerived?: boolean;
  /** `publicUrl + basePath`, no trailing slash: what we publish as config.endpoint (§1). */
  endpoint: string;
  webBaseUrl: string;
  directory: { entries: Record<string, string>; rpcUrl?: string; registryAddress?: string };
  /** Unknown keys and similar findings; logged as warnings at start. */
  warnings?: string[];
};

type DeepPartial<X> = X extends unknown[] ? X : X extends object ? { [K in keyof X]?: DeepPartial<X[K]> } : X;
export type ConfigInput = DeepPartial<Omit<Settings, "directory">> & {
  directory?: Record<string, string> & { rpcUrl?: string; registryAddress?: string };
  configFile?: string;
};

import { ConfigError } from "./config-error";
export { ConfigError };

/** OC_* names that are not settings (tools, tests, the config file itself): never warned about. */
const NOT_SETTINGS = new Set([
  "OC_CONFIG",
  "OC_RELIABILITY_SEED",
  "OC_TEST_DATABASE_URL",
  "OC_TEST_ENGINE",
  "OC_CHROMIUM",
  "OC_CRASH_KILLS",
  "OC_SCALE_SEEDS",
  "OC_BENCH_DATABASE_URL",
  "OC_HOSTILE_SCALE",
  "OC_RACE_SESSIONS",
  "OC_WEB_SCREENSHOT",
]);
/** Older names kept working (extend, never rename). */
const ENV_ALIASES: Record<string, string[]> = { OC_ALLOW_PRIVATE: ["outboundAllowlist"] };

const isObjectSchema = (s: TSchema) => s[Kind] === "Object";
const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** `OC_SESSION_TTL` → ["sessionTtl"], `OC_RATE_LIMITS_PER_IP` → ["rateLimits", "perIp"]: every leaf of SETTINGS. */
export const ENV_NAMES: ReadonlyMap<string, string[]> = (() => {
  const names = new Map<string, string[]>(Object.entries(ENV_ALIASES));
  const walk = (schema: TSchema, path: string[]) => {
    for (const [k, s] of Object.entries(schema.properties as Record<string, TSchema>)) {
      if (isObjectSchema(s)) walk(s, [...path, k]);
      else names.set("OC_" + [...path, k].map(snake).join("_"), [...path, k]);
    }
  };
  walk(SETTINGS, []);
  return names;
})();

function schemaAt(path: string[]): TSchema | undefined {
  let s: TSchema | undefined = SETTINGS;
  for (const k of path) s = s && isObjectSchema(s) ? (s.properties as Record<string, TSchema>)[k] : undefined;
  return s;
}

/** Environment text → the setting's JSON type; text that does not convert stays text, so validation names it. */
function fromText(schema: TSchema, text: string): unknown {
  const kind = schema[Kind];
  if (kind === "Integer" || kind === "Number") return /^-?[0-9]+(\.[0-9]+)?$/.test(text.trim()) ? Number(text) : text;
  if (kind === "Boolean")
    return /^(true|1|yes|on)$/i.test(text) ? true : /^(false|0|no|off)$/i.test(text) ? false : text;
  if (kind === "Array" && !isObjectSchema(schema.items as TSchema)) {
    const parts = text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    return parts.map((p) => fromText(schema.items as TSchema, p));
  }
  if (kind === "Array" || kind === "Record" || kind === "Object") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

type Layer = { source: string; values: Record<string, unknown> };

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[path[path.length - 1]!] = value;
}

function fromEnv(env: Record<string, string | undefined>, warnings: string[]): Layer {
  const values: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith("OC_") || text === undefined || NOT_SETTINGS.has(name)) continue;
    const path = ENV_NAMES.get(name);
    if (!path) {
      warnings.push(`unknown environment variable ${name} (ignored: no setting has that name; check its spelling)`);
      continue;
    }
    if (text === "") continue;
    setPath(values, path, fromText(schemaAt(path)!, text));
  }
  return { source: "environment", values };
}

function readConfigFile(path: string): Layer {
  if (!existsSync(path)) throw new ConfigError(`config file not found: ${path} (check OC_CONFIG or --config)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new ConfigError(`config file ${path} must hold one JSON object of settings`);
  return { source: `config file ${path}`, values: parsed as Record<string, unknown> };
}

/** Keys no schema object knows: a typo such as `sesionTtl` must not pass silently. */
function unknownKeys(values: Record<string, unknown>, schema: TSchema, prefix: string, out: string[]): void {
  const props = schema.properties as Record<string, TSchema>;
  for (const [k, v] of Object.entries(values)) {
    const s = props[k];
    if (!s) out.push(prefix + k);
    else if (isObjectSchema(s) && v && typeof v === "object" && !Array.isArray(v))
      unknownKeys(v as Record<string, unknown>, s, `${prefix}${k}.`, out);
  }
}

/** Later layers win; nested setting objects (rateLimits, scheduler, …) merge key by key. */
function merge(layers: Layer[]): { merged: Record<string, unknown>; sourceOf: Map<string, string> } {
  const merged: Record<string, unknown> = {};
  const sourceOf = new Map<string, string>();
  const props = SETTINGS.properties as Record<string, TSchema>;
  for (const { source, values } of layers)
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined || k === "configFile") continue;
      const nested = props[k] && isObjectSchema(props[k]!) && v && typeof v === "object" && !Array.isArray(v);
      merged[k] = nested ? { ...((merged[k] as object) ?? {}), ...(v as object) } : v;
      sourceOf.set(k, source);
    }
  return { merged, sourceOf };
}

/** What a schema accepts, in words, for the error line. */
function expected(s: TSchema): string {
  if (s.description) return s.description;
  const kind = s[Kind];
  if (kind === "Integer" || kind === "Number") {
    const what = kind === "Integer" ? "an integer" : "a number";
    if (s.minimum !== undefined && s.maximum !== undefined && s.maximum < MAX_OCID)
      return `${what} from ${s.minimum} to ${s.maximum}`;
    return s.minimum !== undefined ? `${what} ≥ ${s.minimum}` : what;
  }
  if (kind === "Boolean") return "true or false";
  if (kind === "String") return s.minLength ? "a non-empty string" : "a string";
  if (kind === "Union" && (s.anyOf as TSchema[]).every((x) => x.const !== undefined))
    return "one of " + (s.anyOf as TSchema[]).map((x) => JSON.stringify(x.const)).join(", ");
  if (kind === "Array")
    return `a JSON array${s.minItems ? ` of at least ${s.minItems}` : ""} (each ${expected(s.items as TSchema)})`;
  if (kind === "Record") return "a JSON object";
  if (kind === "Object") return `an object with ${Object.keys(s.properties as object).join(", ")}`;
  return "a valid value";
}

function schemaAtPointer(pointer: string): TSchema | undefined {
  let s: TSchema | undefined = SETTINGS;
  for (const part of pointer.split("/").filter(Boolean)) {
    if (!s) return undefined;
    const kind = s[Kind];
    if (kind === "Object") s = (s.properties as Record<string, TSchema>)[part];
    else if (kind === "Array") s = s.items as TSchema;
    else if (kind === "Record") s = Object.values(s.patternProperties as Record<string, TSchema>)[0];
    else return s;
  }
  return s;
}

const show = (v: unknown) => (v === undefined ? "(missing)" : JSON.stringify(v));

function fail(key: string, source: string | undefined, value: unknown, wanted: string): never {
  const envName = [...ENV_NAMES].find(([, p]) => p.join(".") === key)?.[0];
  const from = source === "environment" && envName ? ` (from ${envName})` : source ? ` (from ${source})` : "";
  const shown = schemaAt(key.split("."))?.secret
    ? "not valid (value not shown: it may hold a secret)"
    : `is ${show(value)}`;
  throw new ConfigError(`setting ${key}${from} ${shown}: expected ${wanted}`);
}

/** Checks the merged settings against SETTINGS; throws a ConfigError naming the key, the value and what is expected. */
function validate(merged: Record<string, unknown>, sourceOf: Map<string, string>): Settings {
  const withDefaults = Value.Default(SETTINGS, structuredClone(merged)) as Record<string, unknown>;
  for (const err of Value.Errors(SETTINGS, withDefaults)) {
    const parts = err.path.split("/").filter(Boolean);
    const schema = schemaAtPointer(err.path) ?? err.schema;
    fail(parts.join(".") || "(top level)", sourceOf.get(parts[0] ?? ""), err.value, expected(schema));
  }
  return withDefaults as Settings;
}

function httpUrl(key: string, v: string, sourceOf: Map<string, string>): string {
  const u = URL.canParse(v) ? new URL(v) : undefined;
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:"))
    fail(key, sourceOf.get(key.split(".")[0]!), v, "an http(s) URL");
  return v.replace(/\/+$/, "");
}

/** Rules across settings that a schema cannot say. */
function normaliseDirectory(raw: Record<string, unknown>, sourceOf: Map<string, string>): Config["directory"] {
  const entries: Record<string, string> = {};
  const add = (k: string, v: unknown) => {
    if (!/^[1-9][0-9]{0,15}$/.test(k) || typeof v !== "string")
      fail(`directory.${k}`, sourceOf.get("directory"), v, "an OCID key mapped to a URL");
    entries[k] = httpUrl(`directory.${k}`, v, sourceOf);
  };
  for (const [k, v] of Object.entries(raw)) {
    if (k === "rpcUrl" || k === "registryAddress") {
      if (typeof v !== "string") fail(`directory.${k}`, sourceOf.get("directory"), v, "a string");
    } else if (k === "entries") {
      if (!v || typeof v !== "object")
        fail("directory.entries", sourceOf.get("directory"), v, "an object mapping OCIDs to URLs");
      for (const [ek, ev] of Object.entries(v as object)) add(ek, ev);
    } else add(k, v);
  }
  return {
    entries,
    rpcUrl: typeof raw.rpcUrl === "string" ? raw.rpcUrl : undefined,
    registryAddress: typeof raw.registryAddress === "string" ? raw.registryAddress : undefined,
  };
}

function checkCurrencies(s: Settings, sourceOf: Map<string, string>): void {
  let table;
  try {
    table = buildCurrencyTable(s.currencies.extra);
  } catch {
    fail(
      "currencies.extra",
      sourceOf.get("currencies"),
      s.currencies.extra,
      'an object of codes to minor-unit exponents, e.g. {"USDC":6}',
    );
  }
  for (const c of s.currencies.enabled)
    if (!table.has(c))
      fail("currencies.enabled", sourceOf.get("currencies"), c, "ISO 4217 codes or codes listed in currencies.extra");
  for (const b of s.demoBalance) {
    const [cur, amount] = b.split(":") as [string, string];
    if (!table.has(cur) || !isAmountSyntax(amount))
      fail("demoBalance", sourceOf.get("demoBalance"), b, '"CUR:AMOUNT" entries of known currencies');
  }
  try {
    parseTiers(s.kyc.tiers, table);
  } catch (e) {
    throw new ConfigError(`setting ${(e as Error).message}`);
  }
}

/** CIDR/host lists are parsed at start-up: a bad entry must be a configuration error naming its key (exit 78). */
function checkAddressLists(s: Settings, sourceOf: Map<string, string>): void {
  for (const key of ["outboundAllowlist", "trustedProxies"] as const)
    for (const entry of s[key])
      try {
        parseAllowlist([entry]);
      } catch (e) {
        fail(key, sourceOf.get(key), entry, `CIDRs or host names (${(e as Error).message})`);
      }
}

/** With `port: 0` the OS picks a port; URLs derived from host:port must name the real one. */
export function withPort(c: Config, port: number): Config {
  if (!c.publicUrlDerived) return { ...c, port };
  const publicUrl = `http://${c.host}:${port}`;
  const webBaseUrlDerived = c.webBaseUrl === new URL(c.publicUrl).origin;
  return {
    ...c,
    port,
    publicUrl,
    endpoint: publicUrl + c.basePath,
    webBaseUrl: webBaseUrlDerived ? new URL(publicUrl).origin : c.webBaseUrl,
  };
}

/** Merge layers (later wins), validate, derive endpoint/publicUrl; throws ConfigError with a readable message. */
export function loadConfig(
  opts: { env?: Record<string, string | undefined>; flags?: ConfigInput; overrides?: ConfigInput } = {},
): Config {
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const file = opts.flags?.configFile ?? env.OC_CONFIG;
  const layers: Layer[] = [
    ...(file ? [readConfigFile(file)] : []),
    fromEnv(env, warnings),
    { source: "command line", values: (opts.flags ?? {}) as Record<string, unknown> },
    { source: "overrides", values: (opts.overrides ?? {}) as Record<string, unknown> },
  ];
  for (const layer of layers) {
    const unknown: string[] = [];
    unknownKeys(layer.values, SETTINGS, "", unknown);
    for (const k of unknown)
      if (k !== "configFile") warnings.push(`unknown setting "${k}" in ${layer.source} (ignored; check its spelling)`);
  }
  const { merged, sourceOf } = merge(layers);
  const props = SETTINGS.properties as Record<string, unknown>;
  for (const k of Object.keys(merged)) if (!(k in props)) delete merged[k];
  const s = validate(merged, sourceOf);
  checkCurrencies(s, sourceOf);
  checkAddressLists(s, sourceOf);

  const basePath = "/" + s.basePath.replace(/^\/+|\/+$/g, "");
  const publicUrlDerived = s.publicUrl === undefined;
  const publicUrl =
    s.publicUrl !== undefined ? httpUrl("publicUrl", s.publicUrl, sourceOf) : `http://${s.host}:${s.port}`;
  if (!URL.canParse(publicUrl)) fail("host", sourceOf.get("host"), s.host, "a host name or address usable in a URL");
  const webBaseUrl =
    s.webBaseUrl !== undefined ? httpUrl("webBaseUrl", s.webBaseUrl, sourceOf) : new URL(publicUrl).origin;

  // Demo mode is a local trial: peers (the demo merchant) live on this machine.
  const outboundAllowlist =
    s.demoMode && s.outboundAllowlist.length === 0 ? ["127.0.0.0/8", "::1/128", "localhost"] : s.outboundAllowlist;

  return {
    ...s,
    publicUrlDerived,
    outboundAllowlist,
    dataDir: resolve(s.dataDir),
    publicUrl,
    basePath,
    endpoint: publicUrl + basePath,
    webBaseUrl,
    directory: normaliseDirectory(s.directory as Record<string, unknown>, sourceOf),
    warnings,
  };
}
