// `oc <command>`: the operator's tool (same binary as the server). Each command calls the functions the routes use.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import pkg from "../../package.json" with { type: "json" };
import { ConfigError, loadConfig, type Config, type ConfigInput } from "../config";
import { openPortGateway, startGateway } from "../start";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../protocol/keys";
import { rotateKey } from "../keyfile";
import { databasePath, DataDirLocked, isDataDirLocked, prepareDataDir } from "../store/data-dir";
import { POSTGRES_RESTORE_ADVICE } from "../store/postgres/store";
import { backupOk, restoreDatabase, type BackupCheck } from "../store/backup";
import { resolve as resolvePath } from "node:path";
import { OperatorError } from "../flows/accounts";
import { ProtocolError } from "../protocol/errors";
import type { Gateway } from "../gateway";
import { directoryCommand } from "./directory";
import { usersCommand } from "./users";
import { deliveriesCommand } from "./deliveries";
import { ordersCommand } from "./orders";
import { ledgerCommand } from "./ledger";
import { demoMerchantCommand } from "./demo-merchant";
import { apikeysCommand } from "./apikeys";

export type Out = { log: (s: string) => void; err: (s: string) => void };
export type Parsed = { values: { credit?: string[] } & Record<string, unknown>; positionals: string[] };

/**
 * Exit codes: 0 ok, 1 refused (the operation was not possible), 2 usage, 69 port in use, 70 internal error,
 * 75 data dir already served by another process, 78 configuration or start-up (says what to fix).
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 69, internal: 70, locked: 75, config: 78 } as const;

const GLOBAL_FLAGS = `global options (flags override environment, which overrides the config file):
  --config F        JSON config file (env OC_CONFIG)
  --data-dir D      database and key directory (env OC_DATA_DIR, default ./data)
  --host H          listen address (env OC_HOST, default 127.0.0.1)
  --port N          listen port (env OC_PORT, default 8080)
  --public-url U    public origin (env OC_PUBLIC_URL)
  --ocid N          this gateway's OCID (env OC_OCID)`;

type Command = {
  usage: string;
  summary: string;
  needsData: boolean;
  run: (ctx: Ctx) => Promise<number | undefined> | number | undefined;
};
type Ctx = { parsed: Parsed; flags: ConfigInput; out: Out; open: () => Promise<Gateway>; config: () => Config };

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: "serve [--demo]",
    summary: "run the gateway (the default command); --demo creates a funded demo user on an empty database",
    needsData: false,
    run: async ({ config, out }) => {
      // Handlers first: a signal that arrives while starting still shuts down cleanly once started.
      let started: ((r: Awaited<ReturnType<typeof startGateway>>) => void) | undefined;
      const running = new Promise<Awaited<ReturnType<typeof startGateway>>>((r) => (started = r));
      const shutdown = async (signal: string) => {
        await (await running).stop(signal);
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
      started!(await startGateway({ config: config(), announce: out.err }));
      return undefined;
    },
  },
  init: {
    usage: "init",
    summary:
      "create the data dir, database (the SQLite file, or the schema of databaseUrl's PostgreSQL database) and key; " +
      "print the OCID and public key",
    needsData: false,
    run: async ({ open, config, out }) => {
      const c = config();
      const gw = await open(); // creates the database (SQLite file or PostgreSQL schema) and the key when absent
      out.log(`data dir: ${c.dataDir}`);
      out.log(`database: ${c.databaseUrl ? "PostgreSQL (databaseUrl)" : databasePath(c.dataDir)}`);
      out.log(`ocid: ${c.ocid}`);
      out.log(`public key: ${gw.key.publicKeyHex}`);
      return EXIT.ok;
    },
  },
  keygen: {
    usage: "keygen",
    summary: "print a new private key (64 hex) and its public key; nothing is stored",
    needsData: false,
    run: ({ out }) => {
      const sk = generatePrivateKeyHex();
      out.log(`private key: ${sk}`);
      out.log(`public key:  ${publicKeyHex(parsePrivateKey(sk)!)}`);
      return EXIT.ok;
    },
  },
  directory: {
    usage: "directory add <ocid> <url> | list | remove <ocid> | resolve <ocid> | set <ocid> --encoding E --hash H",
    summary:
      "the operator's OCID directory (a metadata URL, or an API endpoint to append /metadata.json to); `set` fixes " +
      "the " +
      "signature dialect we sign in for a peer (E: rsv130|compact128|der|auto, H: sha256|double-sha256|auto)",
    needsData: true,
    run: async ({ open, parsed, out }) => directoryCommand(await open(), parsed, out),
  },
  users: {
    usage:
      "users add <name> [--credit CUR:AMOUNT]... | credit|debit <name> CUR:AMOUNT | freeze|unfreeze <name> | list | " +
      "token <name> | set-ocid <name> <ocid|none> | enrol-link <name>",
    summary: "wallet users; `add`/`token` print a bearer token alone on the last line, `enrol-link` a passkey link",
    needsData: true,
    run: async ({ open, parsed, out }) => usersCommand(await open(), parsed, out),
  },
  orders: {
    usage: "orders list [--status S] [--limit N] | show <id> | resolve <id> paid --proof <file> | resolve <id> refund",
    summary: "orders; `resolve` settles an in_review order by hand after reconciling with the peer",
    needsData: true,
    run: async ({ open, parsed, out }) => ordersCommand(await open(), parsed, out),
  },
  deliveries: {
    usage: "deliveries list [--state pending|delivered|rejected|dead] | replay <id>",
    summary: "proof webhook deliveries; `replay` re-opens one with a fresh 72 h window",
    needsData: true,
    run: async ({ open, parsed, out }) => deliveriesCommand(await open(), parsed, out),
  },
  "demo-merchant": {
    usage: "demo-merchant --token <user token> [--confirm] [--amount 4.50] [--merchant-ocid 500]",
    summary:
      "play a merchant against a running demo gateway: submit a signed order to the user's session, await the proof",
    needsData: true,
    run: async ({ open, parsed, out }) => demoMerchantCommand(await open(), parsed, out),
  },
  apikeys: {
    usage: "apikeys create <name> --scopes a,b,… | list | revoke <name>",
    summary: "operator API keys for /admin; `create` prints the key alone on the last line (stored hashed)",
    needsData: true,
    run: async ({ open, parsed, out }) => apikeysCommand(await open(), parsed, out),
  },
  keys: {
    usage: "keys rotate",
    summary:
      "new signing key; the old public key stays published as previousKey for keyRotationGrace (gateway stopped)",
    needsData: true,
    run: async ({ config, open, parsed, out }) => {
      if (parsed.positionals[0] !== "rotate") return usage(out, "keys rotate");
      const c = config();
      if (isDataDirLocked(c.dataDir))
        throw new DataDirLocked(`a gateway is serving ${c.dataDir}: stop it, run keys rotate, then start it again`);
      // On a shared database the key must be the recorded one (open refuses another) and the rotation is recorded.
      const shared = c.databaseUrl ? (await open()).store.sharedIdentity : undefined;
      const now = Math.floor(Date.now() / 1000);
      const r = rotateKey(c, now);
      if (shared && !(await shared.rotate(r.previous.publicKeyHex, r.publicKeyHex, now)))
        throw new ConfigError(
          "the key file holds the new key, but the database no longer records the key it replaced (another node " +
            "rotated meanwhile?): restore the previous key file from its backup or copy the other node's",
        );
      out.log(`new public key: ${r.publicKeyHex}`);
      out.log(
        `previous key ${r.previous.publicKeyHex} stays published as previousKey until ` +
          `${new Date((now + c.keyRotationGrace) * 1000).toISOString()}`,
      );
      out.log(
        shared
          ? "copy the new key file to every node (all stopped), then start them; back up the new key file"
          : "start the gateway to sign with the new key; back up the new gateway.key",
      );
      return EXIT.ok;
    },
  },
  backup: {
    usage: "backup <file>",
    summary: "snapshot the database into a new file while the gateway serves (VACUUM INTO), then check the copy",
    needsData: true,
    run: async ({ open, parsed, out }) => {
      const file = parsed.positionals[0];
      if (!file) return usage(out, "backup <file>");
      const check = (await open()).store.backupInto(resolvePath(file)); // PostgreSQL: refused, says pg_dump
      out.log(describeBackup(resolvePath(file), check));
      return backupOk(check) ? EXIT.ok : EXIT.refused;
    },
  },
  restore: {
    usage: "restore <file>",
    summary: "replace a stopped data dir's database with a checked backup (the old one is kept beside it)",
    needsData: false,
    run: ({ config, parsed, out }) => {
      const file = parsed.positionals[0];
      if (!file) return usage(out, "restore <file>");
      const c = config();
      if (c.databaseUrl) throw new ConfigError(POSTGRES_RESTORE_ADVICE);
      prepareDataDir(c.dataDir);
      const { check, keptAs } = restoreDatabase(c.dataDir, resolvePath(file));
      out.log(describeBackup(resolvePath(file), check));
      out.log(`restored into ${c.dataDir}${keptAs ? `; the previous database is kept as ${keptAs}` : ""}`);
      return EXIT.ok;
    },
  },
  ledger: {
    usage: "ledger balances [--account A] | fund-peer <ocid> CUR:AMOUNT",
    summary: "account balances and the ledger invariant check; fund-peer prefunds a peer's account here",
    needsData: true,
    run: async ({ open, parsed, out }) => ledgerCommand(await open(), parsed, out),
  },
};

export const USAGE = `usage: oc <command> [options]     (oc <command> --help for details; oc --version)

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}\n      ${c.summary}`)
  .join("\n")}

${GLOBAL_FLAGS}
`;

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "data-dir": { type: "string" },
  "public-url": { type: "string" },
  ocid: { type: "string" },
  config: { type: "string" },
  demo: { type: "boolean" },
  credit: { type: "string", multiple: true },
  state: { type: "string" },
  status: { type: "string" },
  limit: { type: "string" },
  account: { type: "string" },
  proof: { type: "string" },
  token: { type: "string" },
  confirm: { type: "boolean" },
  amount: { type: "string" },
  "merchant-ocid": { type: "string" },
  "merchant-port": { type: "string" },
  scopes: { type: "string" },
  encoding: { type: "string" },
  hash: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function flagsFrom(values: Record<string, unknown>): ConfigInput {
  const f: ConfigInput = {};
  if (values.port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(String(values.port)))
      throw new ConfigError(`--port must be a number, got "${values.port}"`);
    f.port = Number(values.port);
  }
  if (values.host !== undefined) f.host = String(values.host);
  if (values["data-dir"] !== undefined) f.dataDir = String(values["data-dir"]);
  if (values["public-url"] !== undefined) f.publicUrl = String(values["public-url"]);
  if (values.ocid !== undefined) f.ocid = Number(values.ocid);
  if (values.config !== undefined) f.configFile = String(values.config);
  if (values.demo) f.demoMode = true;
  return f;
}

const stdio: Out = { log: (s) => console.log(s), err: (s) => console.error(s) };

/** Returns an exit code, or undefined while a server keeps running. */
export async function runCli(argv: string[], out: Out = stdio): Promise<number | undefined> {
  if (argv[0] === "--version" || argv[0] === "-v") return (out.log(`opencharge-gateway ${pkg.version}`), EXIT.ok);
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") return (out.log(USAGE), EXIT.ok);
  const args = argv.length === 0 || argv[0]!.startsWith("-") ? ["serve", ...argv] : argv;
  const [name, ...rest] = args as [string, ...string[]];
  const command = COMMANDS[name];
  if (!command) return usage(out, `unknown command: ${name}`);
  let gw: Gateway | undefined;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) return (out.log(`usage: oc ${command.usage}\n\n${command.summary}\n\n${GLOBAL_FLAGS}`), EXIT.ok);
    const flags = flagsFrom(values);
    let config: Config | undefined;
    const getConfig = () => {
      if (config) return config;
      config = loadConfig({ flags });
      // `serve` logs these through its logger; other commands say them once on stderr.
      if (name !== "serve") for (const w of config.warnings ?? []) out.err(`warning: ${w}`);
      return config;
    };
    const open = async () => {
      const c = getConfig();
      // On PostgreSQL the database is the server's: its schema is created or checked when the store opens.
      if (command.needsData && !c.databaseUrl && !existsSync(databasePath(c.dataDir)))
        throw new ConfigError(
          `no gateway database in ${c.dataDir} (run \`oc init\` or \`oc serve\` first, or pass --data-dir)`,
        );
      return (gw = await openPortGateway({ config: c, log: quietLog }));
    };
    return await command.run({ parsed: { values, positionals }, flags, out, open, config: getConfig });
  } catch (e) {
    if (e instanceof ConfigError) return fail(out, e.message, EXIT.config);
    if (e instanceof DataDirLocked) return fail(out, e.message, EXIT.locked);
    if (e instanceof OperatorError) return fail(out, e.message, EXIT.refused);
    if (e instanceof ProtocolError)
      return fail(out, `${e.code}: ${e.message}${e.details ? " " + JSON.stringify(e.details) : ""}`, EXIT.refused);
    const code = (e as { code?: string })?.code ?? "";
    if (code.startsWith("ERR_PARSE_ARGS")) return usage(out, (e as Error).message);
    if (code === "EADDRINUSE" || /EADDRINUSE|address already in use/i.test(String((e as Error)?.message)))
      return fail(out, `the port is already in use (choose another with --port or OC_PORT)`, EXIT.unavailable);
    if (code === "EACCES") return fail(out, `permission denied: ${(e as Error).message}`, EXIT.config);
    // Never a stack trace for the operator; the stack goes to stderr only at OC_LOG_LEVEL=debug.
    if (process.env.OC_LOG_LEVEL === "debug") out.err(String((e as Error)?.stack ?? e));
    return fail(
      out,
      `unexpected failure: ${(e as Error)?.message ?? String(e)} (run with OC_LOG_LEVEL=debug for details)`,
      EXIT.internal,
    );
  } finally {
    if (gw && name !== "serve") await gw.store.close();
  }
}

/** CLI commands print their own results; only warnings and errors from the gateway's internals reach stderr. */
const quietLog = {
  debug() {},
  info() {},
  warn: (msg: string, f?: Record<string, unknown>) => console.error(JSON.stringify({ level: "warn", msg, ...f })),
  error: (msg: string, f?: Record<string, unknown>) => console.error(JSON.stringify({ level: "error", msg, ...f })),
};

function describeBackup(file: string, c: BackupCheck): string {
  const ledger = c.ledger.ok ? "ledger balanced" : `LEDGER BROKEN: ${c.ledger.problems.join("; ")}`;
  return `backup ${file}: ${c.bytes} bytes, ${c.orders} orders; integrity ${c.integrity}; ${ledger}`;
}

function fail(out: Out, message: string, code: number): number {
  out.err(`error: ${message}`);
  return code;
}

export function usage(out: Out, message: string): number {
  out.err(`error: ${message}\n\n${USAGE}`);
  return EXIT.usage;
}
