// `bun bench/profile.ts [FULL|NORMAL]`: where a submit's server CPU goes. Runs the gateway under `bun --cpu-prof`
// at max load, buckets every sample by what it was doing (ms per order), lists the hottest functions, then times
// two what-ifs in this process: parsing the key point on every verify, and a per-key precomputed table.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as secp from "@noble/secp256k1";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
// @noble/secp256k1 is the independent reference here (the gateway signs with @noble/curves); it needs its hash hooks.
secp.hashes.sha256 = nobleSha256;
secp.hashes.hmacSha256 = (k: Uint8Array, m: Uint8Array) => nobleHmac(nobleSha256, k, m);
import { generatePrivateKeyHex, parsePrivateKey, parsePublicKey, publicKeyHex } from "../src/protocol/keys";
import { parseSignature, verifyDigest } from "../src/protocol/signatures";
import { sha256Bytes } from "../src/protocol/hash";
import { GATEWAY_OCID, startGatewayProcess } from "./gateway";
import { closedLoop } from "./load";
import { signSubmit, startMerchants, stopMerchants } from "./peers";
import { section, fmt } from "./report";

// The profile is of the main thread: with crypto workers their time does not show; BENCH_GATEWAY_CONFIG
// '{"verifyWorkers":0}' puts everything on the event loop to see it all.
const sync = (process.argv[2] ?? "FULL").toUpperCase() as "FULL" | "NORMAL";
const profDir = mkdtempSync(join(tmpdir(), "oc-prof-"));
const gwKey = generatePrivateKeyHex();
const merchants = await startMerchants(4, publicKeyHex(parsePrivateKey(gwKey)!));
const gw = await startGatewayProcess({
  privateKey: gwKey,
  merchants: merchants.map((m) => ({ ocid: m.ocid, endpoint: m.peer.endpoint })),
  users: 4,
  history: 1000,
  pendingSessions: 5000,
  sqliteSynchronous: sync,
  serverArgs: ["--cpu-prof", "--cpu-prof-dir", profDir],
});
const reqs = gw.pending.map((s, i) => signSubmit(merchants[i % merchants.length]!, s.id, GATEWAY_OCID));
const load = await closedLoop(gw.url, reqs, 8, 8);
await gw.stop(); // SIGTERM: the profile is written on exit
await stopMerchants(merchants);
const orders = load.ok;

// ---- bucket the samples ------------------------------------------------------------------------------------
type Node = { id: number; callFrame: { functionName: string; url: string }; children?: number[] };
const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"))!;
const prof = JSON.parse(readFileSync(join(profDir, file), "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
if (!process.env.BENCH_KEEP) rmSync(profDir, { recursive: true, force: true });
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const frames = (id: number) => {
  const out: Node["callFrame"][] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) out.push(byId.get(cur)!.callFrame);
  return out;
};
const has = (st: Node["callFrame"][], name: string, url = "") => st.some((f) => f.functionName === name && f.url.includes(url));
const inFile = (st: Node["callFrame"][], url: string) => st.some((f) => f.url.includes(url));

const CATEGORIES: [string, (st: Node["callFrame"][]) => boolean][] = [
  ["ECDSA verify ×2 (verifyDigest)", (st) => has(st, "verifyDigest")],
  ["response signing (signDigest, §4.5)", (st) => has(st, "signDigest")],
  ["group commit barrier (durable, fsync bookkeeping)", (st) => inFile(st, "store/durability.ts")],
  ["WebSocket push (hub: token re-check, JSON)", (st) => inFile(st, "app/hub.ts")],
  ["crypto worker messaging (postMessage, replies)", (st) => inFile(st, "verify-pool.ts")],
  ["logging", (st) => inFile(st, "src/log.ts")],
  // store.transaction/read (src/store/sqlite-engine.ts): statements inside, BEGIN/COMMIT, the port's wrappers
  ["SQLite: transactions (store port) incl. COMMIT", (st) => inFile(st, "store/sqlite-engine.ts")],
  ["SQLite: synchronous store.tx incl. COMMIT", (st) => inFile(st, "bun:sqlite") && has(st, "transaction")],
  ["SQLite: nonce insert (autocommit)", (st) => inFile(st, "bun:sqlite") && inFile(st, "nonces.ts")],
  ["SQLite: reads (session, order re-read, ...)", (st) => st[0]!.url === "" && ["get", "all", "values"].includes(st[0]!.functionName) && inFile(st.slice(1), "/src/")],
  ["signature hex parsing (parseSignature)", (st) => has(st, "parseSignature")],
  ["canonical JSON of the order", (st) => has(st, "canonDeep")],
  ["SHA-256 (body + canonical strings)", (st) => inFile(st, "@noble/hashes")],
  ["JSON parse + schema validation", (st) => inFile(st, "protocol/validate.ts") || inFile(st, "@sinclair")],
  ["Elysia", (st) => inFile(st, "/elysia/")],
  ["garbage collector", (st) => st[0]!.functionName === "(garbage collector)"],
];
const idle = (st: Node["callFrame"][]) => ["(idle)", "(program)", "(root)"].includes(st[0]!.functionName);
const counts = new Map<string, number>();
const self = new Map<string, number>();
/** "other" samples by the innermost gateway function on the stack (where app code spends outside the buckets) */
const otherBySrc = new Map<string, number>();
let busy = 0;
prof.samples.forEach((id, i) => {
  if (prof.timeDeltas[i]! > 50_000) return; // a gap (server idle before/after the load), not a 1 ms sample
  const st = frames(id);
  if (idle(st)) return;
  busy++;
  const cat = CATEGORIES.find(([, m]) => m(st))?.[0] ?? "other: HTTP server, runtime, app code";
  counts.set(cat, (counts.get(cat) ?? 0) + 1);
  if (cat.startsWith("other")) {
    const f = st.find((x) => x.url.includes("/src/"));
    const k = f ? `${f.functionName || "(anonymous)"} ${f.url.replace(/.*\/src\//, "src/")}` : `(no src frame) ${st[0]!.functionName || "(anonymous)"}`;
    otherBySrc.set(k, (otherBySrc.get(k) ?? 0) + 1);
  }
  const leaf = `${st[0]!.functionName || "(anonymous)"} ${st[0]!.url.replace(/.*node_modules\//, "").replace(/.*\/work\/main\//, "") || "[native]"}`;
  self.set(leaf, (self.get(leaf) ?? 0) + 1);
});
// Sampling interval is 1 ms: samples ≈ CPU milliseconds. Orders include the warm-up-free closed loop only.
const perOrder = (n: number) => `${fmt.f(n / orders, 3)} ms/order  (${fmt.f((100 * n) / busy)}%)`;

// ---- what-ifs, in this process -----------------------------------------------------------------------------
const m = merchants[0]!;
const key = parsePublicKey(m.peer.publicKeyHex);
if (!key.ok) throw new Error("key");
const digests = Array.from({ length: 64 }, (_, i) => sha256Bytes(`what-if ${i}`));
const sigs = digests.map((d) => secp.sign(d, Buffer.from(m.peer.privateKeyHex, "hex"), { prehash: false }));
const rate = (fn: (i: number) => boolean, ms = 1500) => {
  for (let i = 0; i < 200; i++) if (!fn(i % 64)) throw new Error("what-if does not verify");
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) fn(n++ % 64);
  return (n * 1000) / (performance.now() - t0);
};
const now = rate((i) => verifyDigest(digests[i]!, sigs[i]!, key.point));
const parsePoint = rate(() => !!secp.Point.fromBytes(key.point), 500);

/** Prototype: Q·k from a per-key table of j·2^(w·i)·Q (256/w rows of 2^w points): 256/w additions, no doublings. */
function keyTable(q: secp.Point, w: number) {
  const rows: secp.Point[][] = [];
  for (let i = 0, base = q; i < 256 / w; i++) {
    const row = [secp.Point.ZERO];
    for (let j = 1; j < 1 << w; j++) row.push(row[j - 1]!.add(base));
    rows.push(row);
    for (let k = 0; k < w; k++) base = base.double();
  }
  const mask = BigInt((1 << w) - 1);
  const bw = BigInt(w);
  return (k: bigint) => {
    let acc = secp.Point.ZERO;
    for (let i = 0; k > 0n; i++, k >>= bw) acc = acc.add(rows[i]![Number(k & mask)]!);
    return acc;
  };
}
const N = secp.Point.CURVE().n;
const modInv = (a: bigint) => {
  let [x, y, u, v] = [a % N, N, 1n, 0n];
  while (x !== 0n) [x, y, u, v] = [y % x, x, v - (y / x) * u, u];
  return ((v % N) + N) % N;
};
const Q = secp.Point.fromBytes(key.point);
const tableRates: { w: number; build_ms: number; verify_per_s: number; points: number }[] = [];
for (const w of [4, 8]) {
  const t0 = performance.now();
  const mulQ = keyTable(Q, w);
  const build = performance.now() - t0;
  const verifyFast = (digest: Uint8Array, compact: Uint8Array) => {
    const p = parseSignature(Buffer.from(compact).toString("hex"));
    if (!p.ok) return false;
    const r = BigInt("0x" + Buffer.from(compact.subarray(0, 32)).toString("hex"));
    const s = BigInt("0x" + Buffer.from(compact.subarray(32)).toString("hex"));
    const h = BigInt("0x" + Buffer.from(digest).toString("hex")) % N;
    const is = modInv(s);
    const R = secp.Point.BASE.multiply((h * is) % N, false).add(mulQ((r * is) % N));
    return !R.equals(secp.Point.ZERO) && R.toAffine().x % N === r;
  };
  // Same answers as the gateway's verifier on good and on tampered signatures.
  for (let i = 0; i < 64; i++) {
    const bad = Uint8Array.from(sigs[i]!);
    bad[40] = bad[40]! ^ 1;
    if (!verifyFast(digests[i]!, sigs[i]!) || verifyFast(digests[i]!, bad) !== verifyDigest(digests[i]!, bad, key.point)) throw new Error("table prototype disagrees");
  }
  tableRates.push({ w, build_ms: build, verify_per_s: rate((i) => verifyFast(digests[i]!, sigs[i]!)), points: (256 / w) * (1 << w) });
}

console.log(
  [
    section(`Server CPU per submit, sqliteSynchronous ${sync}, K=8, ${orders} orders at ${fmt.f(load.per_s)}/s (bun --cpu-prof, 1 ms samples)`, [
      ...[...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, perOrder(n)] as [string, string]),
      ["total busy", perOrder(busy)],
    ]),
    section("\"other\" by innermost gateway function", [...otherBySrc].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([k, n]) => [k, perOrder(n)] as [string, string])),
    section("Hottest functions (self time)", [...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => [k, perOrder(n)] as [string, string])),
    section("What-ifs (this process, one core)", [
      ["verify now (verifyDigest)", `${fmt.f(now, 0)}/s`],
      ["Point.fromBytes per verify", `${fmt.f(1e6 / parsePoint, 1)} µs each (what caching the parsed point would save)`],
      ...tableRates.map((t) => [`per-key table w=${t.w}`, `${fmt.f(t.verify_per_s, 0)}/s (×${fmt.f(t.verify_per_s / now, 2)}), ${t.points} points, built in ${fmt.f(t.build_ms, 1)} ms`] as [string, string]),
    ]),
  ].join("\n"),
);
