// `oc <command>`: the same functions the routes call, run against the configured data dir.
import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig, type ConfigInput } from "../config";
import { openGateway, startGateway } from "../start";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../protocol/keys";
import { loadOrCreateKey } from "../keyfile";
import { openDatabase } from "../store/db";
import { OperatorError } from "../flows/accounts";
import { ProtocolError } from "../protocol/errors";
import { directoryCommand } from "./directory";
import { usersCommand } from "./users";
import { deliveriesCommand, ordersCommand } from "./settlement";
import type { Gateway } from "../gateway";

export const USAGE = `usage: oc <command> [options]

commands:
  serve [--demo]                                 run the gateway (the default command)
  init                                           create the data dir, database and key; print the public key
  keygen                                         print a new private key (hex) and its public key
  directory add <ocid> <url> | list | remove <ocid> | resolve <ocid>
  users add <name> [--credit CUR:AMOUNT]...      create a user; prints its token alone on the last line
  users credit <name> CUR:AMOUNT                 fund a user from the operator funding account
  users list                                     users and balances
  users token <name>                             issue a new token (the old one is revoked)
  deliveries list [--state S] | replay <id>      proof webhook deliveries; replay re-opens one
  orders resolve <id> paid --proof <file> | refund   settle an in_review order by hand

options (flags override environment, which overrides the config file):
  --config F  --data-dir D  --host H  --port N  --public-url U  --ocid N  --demo
`;

export type Out = { log: (s: string) => void; err: (s: string) => void };
const stdio: Out = { log: (s) => console.log(s), err: (s) => console.error(s) };

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
  proof: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type Parsed = { values: { credit?: string[] } & Record<string, unknown>; positionals: string[] };

function flagsFrom(values: Record<string, unknown>): ConfigInput {
  const f: ConfigInput = {};
  if (values.port !== undefined) f.port = Number(values.port);
  if (values.host !== undefined) f.host = String(values.host);
  if (values["data-dir"] !== undefined) f.dataDir = String(values["data-dir"]);
  if (values["public-url"] !== undefined) f.publicUrl = String(values["public-url"]);
  if (values.ocid !== undefined) f.ocid = Number(values.ocid);
  if (values.config !== undefined) f.configFile = String(values.config);
  if (values.demo) f.demoMode = true;
  return f;
}

/** Returns an exit code, or undefined while a server keeps running. 2 = usage, 1 = refused, 78 = config. */
export async function runCli(argv: string[], out: Out = stdio): Promise<number | undefined> {
  const args = argv.length === 0 || argv[0]!.startsWith("-") ? ["serve", ...argv] : argv;
  const [command, ...rest] = args as [string, ...string[]];
  let gw: Gateway | undefined;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      out.log(USAGE);
      return 0;
    }
    const flags = flagsFrom(values);
    const open = () => (gw = openGateway({ config: loadConfig({ flags }) }));
    switch (command) {
      case "serve": {
        const running = await startGateway({ config: loadConfig({ flags }), announce: out.err });
        const shutdown = async () => {
          await running.stop();
          process.exit(0);
        };
        process.once("SIGTERM", shutdown);
        process.once("SIGINT", shutdown);
        return undefined;
      }
      case "init": {
        const config = loadConfig({ flags });
        mkdirSync(config.dataDir, { recursive: true });
        openDatabase(join(config.dataDir, "gateway.sqlite"), config.sqliteSynchronous).close();
        const key = loadOrCreateKey(config);
        out.log(`data dir: ${config.dataDir}`);
        out.log(`ocid: ${config.ocid}`);
        out.log(`public key: ${key.publicKeyHex}`);
        return 0;
      }
      case "keygen": {
        const sk = generatePrivateKeyHex();
        out.log(`private key: ${sk}`);
        out.log(`public key:  ${publicKeyHex(parsePrivateKey(sk)!)}`);
        return 0;
      }
      case "directory":
        return await directoryCommand(open(), { values, positionals }, out);
      case "users":
        return usersCommand(open(), { values, positionals }, out);
      case "deliveries":
        return deliveriesCommand(open(), { values, positionals }, out);
      case "orders":
        return await ordersCommand(open(), { values, positionals }, out);
      default:
        out.err(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) return fail(out, e.message, 78);
    if (e instanceof OperatorError) return fail(out, e.message, 1);
    if (e instanceof ProtocolError) return fail(out, `${e.code}: ${e.message}${e.details ? " " + JSON.stringify(e.details) : ""}`, 1);
    if ((e as { code?: string })?.code?.startsWith("ERR_PARSE_ARGS")) return fail(out, `${(e as Error).message}\n\n${USAGE}`, 2);
    throw e;
  } finally {
    if (gw && command !== "serve") gw.db.close();
  }
}

function fail(out: Out, message: string, code: number): number {
  out.err(`error: ${message}`);
  return code;
}

export function usage(out: Out, message: string): number {
  out.err(`error: ${message}\n\n${USAGE}`);
  return 2;
}
