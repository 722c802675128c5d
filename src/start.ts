// Boot: config → data dir → database → key → gateway → HTTP server. Used by `serve` and by the tests alike.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config, type ConfigInput } from "./config";
import { openDatabase } from "./store/db";
import { loadOrCreateKey } from "./keyfile";
import { buildGateway, type Gateway } from "./gateway";
import { createLogger, type Logger } from "./log";
import { systemClock, type Clock } from "./clock";
import { createApp } from "./http/server";

export type RunningGateway = { gw: Gateway; url: string; port: number; stop: () => Promise<void> };

export type StartOptions = {
  config?: Config;
  overrides?: ConfigInput;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log?: Logger;
};

export function openGateway(opts: StartOptions = {}): Gateway {
  const config = opts.config ?? loadConfig({ env: opts.env, overrides: opts.overrides });
  mkdirSync(config.dataDir, { recursive: true });
  const db = openDatabase(join(config.dataDir, "gateway.sqlite"), config.sqliteSynchronous);
  const key = loadOrCreateKey(config);
  const log = opts.log ?? createLogger(config.logLevel);
  return buildGateway({ config, db, key, clock: opts.clock ?? systemClock, log });
}

export async function startGateway(opts: StartOptions = {}): Promise<RunningGateway> {
  const gw = openGateway(opts);
  const app = createApp(gw);
  app.listen({ hostname: gw.config.host, port: gw.config.port, maxRequestBodySize: 4 * gw.config.maxBodyBytes });
  const port = app.server!.port!;
  gw.log.info("gateway listening", { url: `http://${gw.config.host}:${port}`, endpoint: gw.config.endpoint, ocid: gw.config.ocid });
  return {
    gw,
    port,
    url: `http://${gw.config.host}:${port}`,
    stop: async () => {
      await app.stop(true);
      gw.db.close();
    },
  };
}
