// `bun bench/floor.ts`: what this runtime costs per request before any gateway code (issue 20: how far the crypto
// share can go). A bare Bun.serve reading a 700-byte POST body (a submit's size, with its five X-OC headers) and
// answering a small JSON, then the same plus one SQLite write transaction per request (WAL, synchronous NORMAL, one
// INSERT), each loaded by 8 keep-alive connections for 5 s after 2 s of warm-up. Prints the server's CPU per
// request (user+system from /proc, all its threads) next to the bench's crypto CPU per order.
import { Database } from "bun:sqlite";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SERVE = process.env.FLOOR_SERVE; // set in the server process this script spawns

if (SERVE) {
  const path = join(tmpdir(), `oc-floor-${process.pid}.sqlite`);
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)");
  const insert = db.query("INSERT INTO t (body) VALUES (?)");
  const withSql = SERVE === "sqlite";
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      if (withSql) {
        db.exec("BEGIN IMMEDIATE");
        insert.run(body);
        db.exec("COMMIT");
      }
      return Response.json({ urls: { status: "http://127.0.0.1/opencharge/orders/x/status" } });
    },
  });
  process.on("SIGTERM", () => {
    db.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    process.exit(0);
  });
  console.log(server.port);
} else {
  const K = 8;
  const body = "x".repeat(700);
  const headers = {
    "content-type": "application/json",
    "x-oc-ocid": "4000",
    "x-oc-timestamp": "1764700000",
    "x-oc-nonce": "b".repeat(32),
    "x-oc-signature": "a".repeat(128),
    "x-oc-key": "02" + "c".repeat(64),
  };
  for (const kind of ["http", "sqlite"]) {
    const proc = Bun.spawn([process.execPath, import.meta.path], { env: { ...process.env, FLOOR_SERVE: kind }, stdout: "pipe" });
    const reader = proc.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    const url = `http://127.0.0.1:${port}/opencharge/orders/create/0123456789abcdef0123456789abcdef`;
    const cpu = () => {
      const f = readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(")").pop()!.trim().split(" ");
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    const load = async (seconds: number) => {
      let ok = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: K }, async () => {
          while (performance.now() < end) {
            const r = await fetch(url, { method: "POST", body, headers });
            await r.text();
            ok++;
          }
        }),
      );
      return ok;
    };
    await load(2);
    const c0 = cpu();
    const ok = await load(5);
    const ms = ((cpu() - c0) * 1000) / ok;
    const label = kind === "http" ? "Bun.serve alone" : "Bun.serve + 1 SQLite write transaction";
    console.log(`${label.padEnd(40)}${(ok / 5).toFixed(0)} req/s, ${ms.toFixed(3)} ms server CPU per request`);
    proc.kill("SIGTERM");
    await proc.exited;
  }
}
