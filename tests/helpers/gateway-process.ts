// A real gateway as its own process (`bun src/main.ts serve`), with its own data dir, key and database, on a fixed
// loopback port so it can be killed and started again where its peers expect it. The CLI runs against the same
// config; the database can be read (read-only) for the books.
import { Database } from "bun:sqlite";
import { balanceRows } from "../../src/domain/ledger-accounts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { NO_RATE_LIMITS } from "./gateway";

const REPO = resolve(import.meta.dir, "../..");

export function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null) });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

export type ProcessGatewayOptions = {
  ocid: number;
  name: string;
  port?: number;
  config?: Record<string, unknown>;
  /** Extra environment for the server and its CLI runs (e.g. OC_NODE_ID). */
  env?: Record<string, string>;
  /** Bun runtime arguments before `src/main.ts` (e.g. a test's --preload). */
  runtimeArgs?: string[];
};

export class ProcessGateway {
  readonly dataDir = mkdtempSync(join(tmpdir(), "oc-proc-"));
  readonly configPath = join(this.dataDir, "config.json");
  readonly port: number;
  readonly ocid: number;
  publicKeyHex = "";
  private proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  private config: Record<string, unknown>;
  private readonly env: Record<string, string | undefined>;
  private readonly runtimeArgs: string[];
  readonly logs: Promise<string>[] = [];

  constructor(o: ProcessGatewayOptions) {
    this.port = o.port ?? freePort();
    this.ocid = o.ocid;
    this.env = { ...process.env, ...o.env, OC_CONFIG: this.configPath };
    this.runtimeArgs = o.runtimeArgs ?? [];
    this.config = {
      ocid: o.ocid,
      name: o.name,
      host: "127.0.0.1",
      port: this.port,
      dataDir: this.dataDir,
      outboundAllowlist: ["127.0.0.0/8"],
      rateLimits: NO_RATE_LIMITS,
      sqliteSynchronous: "NORMAL",
      verifyWorkers: 0,
      ...o.config,
    };
    this.writeConfig();
  }

  /** This gateway's database for helpers/inspect.ts (dbRow, dbBalance): its SQLite file, or its config's databaseUrl. */
  get where(): { dataDir: string; gw: { config: { databaseUrl?: string } } } {
    return { dataDir: this.dataDir, gw: { config: { databaseUrl: this.config.databaseUrl as string | undefined } } };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get endpoint(): string {
    return `${this.url}/opencharge`;
  }
  userMetadataUrl(ocid: number): string {
    return `${this.endpoint}/users/${ocid}/metadata.json`;
  }

  /** Merges into the config file; takes effect at the next start (and for CLI runs at once). */
  configure(patch: Record<string, unknown>): void {
    this.config = { ...this.config, ...patch };
    this.writeConfig();
  }
  private writeConfig(): void {
    writeFileSync(this.configPath, JSON.stringify(this.config, null, 2));
  }

  async start(): Promise<void> {
    const p = Bun.spawn(["bun", ...this.runtimeArgs, "src/main.ts", "serve"], {
      cwd: REPO,
      env: this.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.logs.push(new Response(p.stdout).text(), new Response(p.stderr).text());
    const until = Date.now() + 20_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`gateway ${this.ocid} exited: ${await this.logs.at(-1)}`);
      try {
        const r = await fetch(`${this.endpoint}/metadata.json`);
        if (r.status === 200) {
          this.publicKeyHex = ((await r.json()) as { config: { publicKey: string } }).config.publicKey;
          break;
        }
      } catch {}
      if (Date.now() > until) throw new Error(`gateway ${this.ocid} did not start`);
      await Bun.sleep(25);
    }
    this.proc = p;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** SIGKILL: no graceful anything (the way a crash or a pulled cable looks to its peers). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill("SIGKILL");
    await p.exited;
    this.proc = null;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill("SIGTERM");
    await p.exited;
    this.proc = null;
  }

  async cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn(["bun", ...this.runtimeArgs, "src/main.ts", ...args], { cwd: REPO, env: this.env, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  }

  /** `users add` through the CLI; its token is the last line. */
  async addUser(name: string, ...credits: string[]): Promise<{ name: string; id: string; token: string }> {
    const r = await this.cli("users", "add", name, ...credits.flatMap((c) => ["--credit", c]));
    if (r.code !== 0) throw new Error(`users add failed: ${r.err}`);
    const lines = r.out.trim().split("\n");
    const id = /\(user_([a-z0-9]+)\)/.exec(lines[0]!)![1]!;
    return { name, id, token: lines.at(-1)!.trim() };
  }

  /** A read-only look at the books (WAL: never blocks the running process). */
  read<T>(fn: (db: Database) => T): T {
    const db = new Database(join(this.dataDir, "gateway.sqlite"), { readonly: true, strict: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  balance(account: string, currency = "USD"): bigint {
    return this.read((db) => bookBalance(db, account, currency));
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** An account's balance read straight from a gateway database: the sum of the rows the books keep it in. */
export function bookBalance(db: Database, account: string, currency = "USD"): bigint {
  const q = db.query<{ balance: bigint }, [string, string]>(
    "SELECT COALESCE(SUM(balance), 0) AS balance FROM accounts WHERE account IN (SELECT value FROM json_each(?1)) AND currency = ?2",
  );
  q.safeIntegers(true);
  return q.get(JSON.stringify(balanceRows(account)), currency)?.balance ?? 0n;
}
