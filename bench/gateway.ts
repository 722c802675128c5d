// The real gateway as a separate process: fresh temp data dir, a config file (OC_CONFIG), users made with the
// operator CLI, the database seeded with bun:sqlite, then `serve`. Also reads the server's CPU time and memory.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { seedDatabase, seedPostgresSessions } from "./seed";

const ROOT = resolve(import.meta.dir, "..");
const DIST = join(ROOT, "dist/opencharge-gateway");

export const GATEWAY_OCID = 200;

/** User+system CPU seconds in a /proc stat line (a process's or a thread's): fields 14 and 15 (clock ticks),
 * counted after the last ")", which closes the name (a name may hold one). */
function statCpuSeconds(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** A process's user+system CPU seconds so far, all its threads. */
export function processCpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

export type BenchUser = { name: string; id: string; token: string };

export type GatewayProc = {
  url: string;
  pid: number;
  dir: string;
  command: string;
  users: BenchUser[];
  flowUser: BenchUser;
  pending: { id: string; userId: string }[];
  /** history orders actually seeded (fewer than asked if the seeding deadline passed) */
  history: number;
  seedMs: number;
  startupMs: number;
  /** server user+system CPU seconds so far (from /proc) */
  cpuSeconds(): number;
  /** CPU seconds so far per kind of server thread (main "bun", "Worker", "JITWorker", "Bun Pool", ...), from /proc */
  threadCpuSeconds(): Map<string, number>;
  rssMb(): number;
  stop(): Promise<void>;
};

/** CPU seconds all processes on the machine have used (busy = everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** dist/opencharge-gateway when it exists and is newer than every source file; else `bun src/main.ts`. */
export function gatewayCommand(): { argv: string[]; label: string } {
  if (existsSync(DIST)) {
    const built = statSync(DIST).mtimeMs;
    const sources = Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "schema.sql")).mtimeMs);
    if (built >= sources) return { argv: [DIST], label: "dist/opencharge-gateway" };
    return { argv: [process.execPath, join(ROOT, "src/main.ts")], label: "bun src/main.ts (dist/opencharge-gateway is older than src/, not used)" };
  }
  return { argv: [process.execPath, join(ROOT, "src/main.ts")], label: "bun src/main.ts" };
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  await s.stop(true);
  return port;
}

function childEnv(configPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OC_")) env[k] = v;
  env.OC_CONFIG = configPath;
  return env;
}

function cli(argv: string[], env: Record<string, string>): string {
  const r = Bun.spawnSync([...gatewayCommand().argv, ...argv], { env, cwd: ROOT });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) throw new Error(`oc ${argv.join(" ")} failed (${r.exitCode}): ${out}${r.stderr.toString()}`);
  return out;
}

function addUser(name: string, env: Record<string, string>): BenchUser {
  const lines = cli(["users", "add", name, "--credit", "USD:1000000.00"], env).trim().split("\n");
  const id = /\(user_([a-z0-9]+)\)/.exec(lines[0] ?? "")?.[1];
  const token = lines[lines.length - 1]!.trim();
  if (!id || !/^[0-9a-f]{64}$/.test(token)) throw new Error(`unexpected output of users add: ${lines.join(" | ")}`);
  return { name, id, token };
}

export type GatewaySetup = {
  privateKey: string;
  merchants: { ocid: number; endpoint: string }[];
  users: number;
  history: number;
  pendingSessions: number;
  sqliteSynchronous: "FULL" | "NORMAL";
  /** performance.now() after which history seeding stops early */
  seedDeadline?: number;
  /** config keys merged last (bench/variants.ts) */
  config?: Record<string, unknown>;
  /** extra arguments for the server process only (e.g. bun --cpu-prof flags) */
  serverArgs?: string[];
  /** PostgreSQL (bench/nodes.ts): the store is this database instead of the data dir's gateway.sqlite, its pending
   * sessions these ids (`pendingSessions` is not used) */
  databaseUrl?: string;
  sessionIds?: string[];
  /** Another node of `databaseUrl` that `sharesWith` already initialised, seeded and gave users: only serve. */
  sharesWith?: GatewayProc;
  /** OC_NODE_ID of this node (several nodes on one database) */
  nodeId?: string;
};

export async function startGatewayProcess(s: GatewaySetup): Promise<GatewayProc> {
  const dir = mkdtempSync(join(tmpdir(), "oc-bench-"));
  const port = await freePort();
  const sessionTtl = 3600;
  const config = {
    host: "127.0.0.1",
    port,
    ocid: GATEWAY_OCID,
    privateKey: s.privateKey,
    dataDir: join(dir, "data"),
    // Benchmarks turn the §16 rate limits off (0 = off) and lift the pending-session cap.
    rateLimits: { perIp: 0, perOcid: 0, perToken: 0, payPerUser: 0 },
    maxPendingSessions: 1_000_000,
    sessionTtl,
    outboundAllowlist: ["127.0.0.0/8"],
    directory: Object.fromEntries(s.merchants.map((m) => [String(m.ocid), m.endpoint])),
    sqliteSynchronous: s.sqliteSynchronous,
    ...(s.databaseUrl ? { databaseUrl: s.databaseUrl } : {}),
    // Variants (bench/README.md): e.g. BENCH_GATEWAY_CONFIG='{"verifyWorkers":2}' merges into the config file.
    ...(process.env.BENCH_GATEWAY_CONFIG ? (JSON.parse(process.env.BENCH_GATEWAY_CONFIG) as Record<string, unknown>) : {}),
    ...s.config,
  };
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = childEnv(configPath);
  if (s.nodeId) env.OC_NODE_ID = s.nodeId;

  const shared = s.sharesWith;
  if (!shared) cli(["init"], env);
  const users = shared?.users ?? Array.from({ length: s.users }, (_, i) => addUser(`bench-load-${i}`, env));
  const flowUser = shared?.flowUser ?? addUser("bench-flow", env);
  const seeded = shared
    ? { pending: shared.pending, history: shared.history, ms: 0 }
    : s.databaseUrl
      ? await seedPostgresSessions(s.databaseUrl, { users, ids: s.sessionIds ?? [], sessionTtl })
      : seedDatabase(join(dir, "data/gateway.sqlite"), {
          users,
          merchants: s.merchants.map((m) => m.ocid),
          history: s.history,
          pendingSessions: s.pendingSessions,
          sessionTtl,
          deadline: s.seedDeadline,
        });

  // Runtime flags (the profiler) need the source run; the bench itself takes whatever gatewayCommand() picks.
  const cmd = s.serverArgs ? { argv: [process.execPath, ...s.serverArgs, join(ROOT, "src/main.ts")], label: "bun src/main.ts" } : gatewayCommand();
  const argv = cmd.argv;
  const logPath = join(dir, "server.log");
  const t0 = performance.now();
  const proc = Bun.spawn([...argv, "serve"], { env, cwd: ROOT, stdout: Bun.file(logPath), stderr: Bun.file(logPath + ".err") });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode}): ${readFileSync(logPath + ".err", "utf8").slice(-2000)}`);
    if (performance.now() - t0 > 60_000) throw new Error("gateway did not start within 60 s");
    try {
      if ((await fetch(`${url}/opencharge/metadata.json`)).ok) break;
    } catch {
      // not listening yet
    }
    await Bun.sleep(20);
  }
  const startupMs = performance.now() - t0;

  return {
    url,
    pid: proc.pid,
    dir,
    command: cmd.label,
    users,
    flowUser,
    pending: seeded.pending,
    history: seeded.history,
    seedMs: seeded.ms,
    startupMs,
    cpuSeconds: () => processCpuSeconds(proc.pid),
    threadCpuSeconds() {
      const byKind = new Map<string, number>();
      for (const tid of readdirSync(`/proc/${proc.pid}/task`)) {
        let stat: string;
        try {
          stat = readFileSync(`/proc/${proc.pid}/task/${tid}/stat`, "utf8");
        } catch {
          continue; // the thread ended meanwhile
        }
        // comm is "(name)"; numbered pool threads ("Bun Pool 3") are one kind; the main thread is named after the binary
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const kind = Number(tid) === proc.pid ? "main" : name.replace(/\s*\d+$/, "");
        byKind.set(kind, (byKind.get(kind) ?? 0) + statCpuSeconds(stat));
      }
      return byKind;
    },
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    async stop() {
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => null)]);
      if (done === null) proc.kill("SIGKILL");
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
