// Starts the real gateway on a random loopback port with a throw-away data dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigInput } from "../../src/config";
import { startGateway, type RunningGateway } from "../../src/start";
import { createLogger, type Logger } from "../../src/log";
import type { Clock } from "../../src/clock";

/** Rate limits off: tests fire bursts from one IP and one OCID on purpose. */
export const NO_RATE_LIMITS = { perIp: 0, perOcid: 0, perToken: 0, payPerUser: 0, demoLoginPerIp: 0 };

export type TestGateway = RunningGateway & { dataDir: string; logs: string[]; announcements: string[]; close: () => Promise<void> };

export async function startTestGateway(overrides: ConfigInput = {}, opts: { clock?: Clock; dataDir?: string } = {}): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "oc-test-"));
  const logs: string[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(line));
  const config = loadConfig({
    env: {},
    overrides: { dataDir, host: "127.0.0.1", port: 0, outboundAllowlist: ["127.0.0.0/8"], sqliteSynchronous: "NORMAL", ...overrides },
  });
  const announcements: string[] = [];
  const running = await startGateway({ config, clock: opts.clock, log, announce: (l) => announcements.push(l) });
  // publicUrl defaults to the configured port (0); tests talk to the real one.
  return {
    ...running,
    dataDir,
    logs,
    announcements,
    close: async () => {
      await running.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
