// Operator-side helpers: API keys made through the real CLI (its own database connection, like a second process),
// and /admin calls over HTTP.
import { appAt } from "./wallet";
import { runCli } from "../../src/cli/run";
import type { PortTestGateway } from "./gateway";

/** The CLI flags that name a test gateway's data dir and, on PostgreSQL, its database (a config file). */
export const cliWhere = (tg: Pick<PortTestGateway, "dataDir" | "configFile">): string[] => [
  "--data-dir",
  tg.dataDir,
  ...(tg.configFile ? ["--config", tg.configFile] : []),
];

export async function oc(tg: PortTestGateway, ...args: string[]): Promise<{ code: number | undefined; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, ...cliWhere(tg)], { log: (s) => out.push(...s.split("\n")), err: (s) => err.push(s) });
  return { code, out, err };
}

/** `oc apikeys create <name> --scopes …`: the key is the last line of its output. */
export async function apiKey(tg: PortTestGateway, name: string, scopes: string[]): Promise<string> {
  const r = await oc(tg, "apikeys", "create", name, "--scopes", scopes.join(","));
  if (r.code !== 0) throw new Error(`apikeys create failed: ${r.err.join("\n")}`);
  return r.out.at(-1)!;
}

/** The admin API speaks the same JSON as the app API; only the key (and sometimes Idempotency-Key) differs. */
export const admin = (tg: PortTestGateway, key: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  appAt(tg.url, key, method, path, body, headers);
