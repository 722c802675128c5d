// `bun bench/floor.ts`: what this runtime costs per request before any gateway code (issue 20: how far the crypto
// share can go). A bare Bun.serve reading a 700-byte POST body (a submit's size, with its five X-OC headers) and
// answering a small JSON, then the same plus one SQLite write transaction per request (WAL, synchronous NORMAL, one
// INSERT), each loaded by 8 keep-alive connections for 5 s after 2 s of warm-up. Prints the server's CPU per
// request (user+system from /proc, all its threads) next to the bench's crypto CPU per order.
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processCpuSeconds } from "./gateway";
import { closedLoop } from "./load";

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
    const origin = `http://127.0.0.1:${port}`;
    const path = "/opencharge/orders/create/0123456789abcdef0123456789abcdef";
    const request = { sessionId: "", orderId: "", path, headers, body };
    // One request, sent over and over (the server does not look at it): more than the window can use.
    const reqs = Array.from({ length: 1_000_000 }, () => request);
    await closedLoop(origin, reqs, K, 2);
    const c0 = processCpuSeconds(proc.pid);
    const r = await closedLoop(origin, reqs, K, 5);
    if (r.errors) throw new Error(`floor server answered errors: ${r.errorSamples.join("; ")}`);
    const ms = ((processCpuSeconds(proc.pid) - c0) * 1000) / r.ok;
    const label = kind === "http" ? "Bun.serve alone" : "Bun.serve + 1 SQLite write transaction";
    console.log(`${label.padEnd(40)}${r.per_s.toFixed(0)} req/s, ${ms.toFixed(3)} ms server CPU per request`);
    proc.kill("SIGTERM");
    await proc.exited;
  }
}
