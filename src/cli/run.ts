import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { ConfigError, loadConfig, type ConfigInput } from "../config";
import { startGateway } from "../start";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../protocol/keys";
import { loadOrCreateKey } from "../keyfile";
import { openDatabase } from "../store/db";
import { join } from "node:path";

const USAGE = `usage: oc <command> [options]

commands:
  serve [--demo] [--port N] [--host H] [--data-dir D] [--config F]   run the gateway (default command)
  init                                                               create the data dir, database and key
  keygen                                                             print a new private key (hex) and its public key
`;

type Out = { log: (s: string) => void; err: (s: string) => void };
const stdio: Out = { log: (s) => console.log(s), err: (s) => console.error(s) };

function commonFlags(values: Record<string, unknown>): ConfigInput {
  const f: ConfigInput = {};
  if (values.port !== undefined) f.port = Number(values.port);
  if (values.host !== undefined) f.host = String(values.host);
  if (values["data-dir"] !== undefined) f.dataDir = String(values["data-dir"]);
  if (values.config !== undefined) f.configFile = String(values.config);
  if (values.demo) f.demoMode = true;
  return f;
}

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "data-dir": { type: "string" },
  config: { type: "string" },
  demo: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Returns an exit code, or undefined when a server keeps running. */
export async function runCli(argv: string[], out: Out = stdio): Promise<number | undefined> {
  const [command = "serve", ...rest] = argv[0]?.startsWith("-") ? ["serve", ...argv] : argv;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: false });
    if (values.help) {
      out.log(USAGE);
      return 0;
    }
    const flags = commonFlags(values);
    switch (command) {
      case "serve": {
        const running = await startGateway({ config: loadConfig({ flags }) });
        const shutdown = async () => {
          await running.stop();
          process.exit(0);
        };
        process.on("SIGTERM", shutdown);
        process.on("SIGINT", shutdown);
        return undefined;
      }
      case "init": {
        const config = loadConfig({ flags });
        mkdirSync(config.dataDir, { recursive: true });
        openDatabase(join(config.dataDir, "gateway.sqlite"), config.sqliteSynchronous).close();
        const key = loadOrCreateKey(config);
        out.log(`data dir: ${config.dataDir}`);
        out.log(`public key: ${key.publicKeyHex}`);
        return 0;
      }
      case "keygen": {
        const sk = generatePrivateKeyHex();
        out.log(`private key: ${sk}`);
        out.log(`public key:  ${publicKeyHex(parsePrivateKey(sk)!)}`);
        return 0;
      }
      default:
        out.err(`unknown command: ${command}\n${USAGE}`);
        return 2;
    }
    void positionals;
  } catch (e) {
    if (e instanceof ConfigError) {
      out.err(`error: ${e.message}`);
      return 78;
    }
    throw e;
  }
}
