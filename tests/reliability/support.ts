// Shared pieces of the reliability suite (issue 9): the cross-file summary, a seeded PRNG, the §15 status table
// (written out again here rather than imported, so a wrong table in src/ cannot hide itself), the secret scanner,
// and small helpers around the in-process gateway.
import { readdirSync } from "node:fs";
import { basename } from "node:path";
import type { PortTestGateway } from "../helpers/gateway";
import { dbReader, dbRow, dbRows, dbRun } from "../helpers/inspect";

// ------------------------------------------------------------------------------------------------ summary

export type Category =
  | "races" | "kills" | "hostile" | "replays" | "ssrf" | "secrets"
  | "windowEdge" | "proofReuse" | "revokedSockets" | "serverErrors" | "recipient" | "slowChains" | "bounds";
type Counts = { tried: number; lost: number; duplicated: number; s500: number; notes: string[] };
type Registry = { cats: Record<string, Counts>; files: Set<string>; printed: boolean };

const reg: Registry = ((globalThis as { __ocReliability?: Registry }).__ocReliability ??= { cats: {}, files: new Set(), printed: false });

function cat(c: Category): Counts {
  return (reg.cats[c] ??= { tried: 0, lost: 0, duplicated: 0, s500: 0, notes: [] });
}

export const tally = {
  tried: (c: Category, n = 1) => void (cat(c).tried += n),
  lost: (c: Category, n = 1) => void (cat(c).lost += n),
  duplicated: (c: Category, n = 1) => void (cat(c).duplicated += n),
  /** Count every HTTP status seen; 5xx other than the 502 METADATA_UNAVAILABLE of §15 is a genuine fault. */
  status: (c: Category, status: number) => void (status === 500 ? (cat(c).s500 += 1) : undefined),
  note: (c: Category, s: string) => void cat(c).notes.push(s),
  get: (c: Category) => ({ ...cat(c) }),
};

const LABELS: Record<Category, string> = {
  races: "races run (concurrent operations)",
  kills: "kills survived (SIGKILL + restart)",
  hostile: "hostile requests tried",
  replays: "replays/forgeries tried",
  ssrf: "SSRF attempts checked (refused unless allow-listed or public)",
  secrets: "log lines scanned for secrets",
  windowEdge: "replays at the timestamp window's edge (clock pinned to the second)",
  proofReuse: "peer proofs reused across jobs and paths (one (issuer, txid) = one movement)",
  revokedSockets: "revoked/rotated tokens on open WebSockets (closed 4401, nothing after)",
  serverErrors: "former 500 inputs (demo names, 64-bit balance overflow)",
  recipient: "value-moving requests not naming us as recipient",
  slowChains: "slow metadata chains (overall deadline, waiters not stuck)",
  bounds: "limiter/cache bounds and body caps (eviction, not reset)",
};

export function summaryText(final: boolean): string {
  const lines = [final ? "=== RELIABILITY SUMMARY (tests/reliability) ===" : `--- reliability counts so far (${[...reg.files].join(", ")}; full summary once every file of the folder has run) ---`];
  for (const c of Object.keys(LABELS) as Category[]) {
    const k = reg.cats[c];
    if (!k) continue;
    lines.push(`${LABELS[c]}: ${k.tried.toLocaleString("en-US")} — lost: ${k.lost}, duplicated: ${k.duplicated}, 500s: ${k.s500}`);
    if (final) for (const n of k.notes) lines.push(`    ${n}`);
  }
  return lines.join("\n");
}

/** Called in each file's afterAll; prints the final summary once every file of the folder has reported. */
export function fileDone(importMetaPath: string): void {
  reg.files.add(basename(importMetaPath));
  const all = readdirSync(import.meta.dir).filter((f) => f.endsWith(".test.ts"));
  const complete = all.every((f) => reg.files.has(f));
  if (complete && !reg.printed) {
    reg.printed = true;
    console.log("\n" + summaryText(true) + "\n");
  } else if (!complete) console.log("\n" + summaryText(false) + "\n");
}

// ------------------------------------------------------------------------------------------------ PRNG

/** mulberry32: small, fast, reproducible. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}

/** OC_RELIABILITY_SEED pins a run; otherwise a fresh seed that is printed so a failure can be replayed. */
export function suiteSeed(name: string): number {
  const env = process.env.OC_RELIABILITY_SEED;
  const seed = env !== undefined && /^[0-9]+$/.test(env) ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`[reliability] ${name}: seed ${seed} (re-run with OC_RELIABILITY_SEED=${seed})`);
  return seed;
}

// ------------------------------------------------------------------------------------------------ §15 table

/** SPEC §15: code → the HTTP status(es) it may carry. */
export const SPEC_STATUS: Record<string, number[]> = {
  INVALID_SIGNATURE: [401, 400],
  TIMESTAMP_EXPIRED: [401],
  NONCE_REUSED: [401],
  UNKNOWN_OCID: [401],
  METADATA_UNAVAILABLE: [502],
  INVALID_REQUEST: [400],
  INVALID_AMOUNT: [400],
  ORDER_EXPIRED: [400],
  SETTLEMENT_NOT_SUPPORTED: [400],
  ACCOUNT_NOT_FOUND: [400],
  INVALID_PROOF: [400],
  PROOF_SIGNATURE_INVALID: [400],
  ISSUER_NOT_ACCEPTED: [400],
  INVALID_TOKEN: [401],
  INSUFFICIENT_FUNDS: [402],
  UNAUTHORIZED: [403],
  NOT_FOUND: [404],
  SESSION_NOT_FOUND: [404],
  SESSION_EXPIRED: [404],
  ORDER_NOT_FOUND: [404],
  ORDER_ALREADY_EXISTS: [409],
  INVALID_STATE: [409],
  SESSION_USED: [410],
  PAYLOAD_TOO_LARGE: [413],
  RATE_LIMITED: [429],
};

/** null when `status`/`text` is a §15 error body with the right status (or a JSON-object 200), else why not. */
export function protocolShapeProblem(status: number, text: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `status ${status} with a non-JSON body ${JSON.stringify(text.slice(0, 120))}`;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return `status ${status}: body is not a JSON object`;
  if (status === 200) return null;
  const e = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
  if (!e || typeof e !== "object") return `status ${status} without an error object: ${text.slice(0, 160)}`;
  if (typeof e.code !== "string" || typeof e.message !== "string") return `status ${status}: error.code/message missing: ${text.slice(0, 160)}`;
  if (e.details !== undefined && (e.details === null || typeof e.details !== "object" || Array.isArray(e.details)))
    return `status ${status}: error.details is not an object`;
  const allowed = SPEC_STATUS[e.code];
  if (!allowed) return `status ${status}: code ${e.code} is not in §15`;
  if (!allowed.includes(status)) return `code ${e.code} carried status ${status}, §15 says ${allowed.join("/")}`;
  if (/\bat\s+\S+\s*\(|\.ts:\d+|SQLITE|sqlite/i.test(text)) return `status ${status}: body leaks internals: ${text.slice(0, 160)}`;
  return null;
}

// ------------------------------------------------------------------------------------------------ secrets

/** Every occurrence of any secret (case-insensitive) in any line; returns human-readable findings. */
export function findSecrets(lines: string[], secrets: { label: string; value: string }[]): string[] {
  const found: string[] = [];
  const hay = lines.map((l) => l.toLowerCase());
  for (const s of secrets) {
    const v = s.value.trim().toLowerCase();
    if (v.length < 16) continue;
    const i = hay.findIndex((l) => l.includes(v));
    if (i >= 0) found.push(`${s.label} found in log line ${i}: ${lines[i]!.slice(0, 200)}`);
  }
  tally.tried("secrets", lines.length);
  if (found.length) tally.note("secrets", `LEAKS: ${found.length}`);
  return found;
}

export const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// ------------------------------------------------------------------------------------------------ database

// The watchers below put triggers in the gateway's own database from a connection of the test's (helpers/inspect.ts),
// so they see every write whichever connection of the gateway made it, on either engine. Their tables are named
// rel_* (REL_TABLES): digests skip them.
export const REL_TABLES = ["rel_negative_seen", "rel_writes"];

const isPostgres = (tg: PortTestGateway) => Boolean(tg.gw.config.databaseUrl);

/** Records any write that leaves a floored account (§12.1) negative, whichever statement made it. */
export async function watchNegativeBalances(tg: PortTestGateway): Promise<() => Promise<{ account: string; currency: string; balance: number }[]>> {
  const cond = "NEW.balance < 0 AND NEW.account <> 'funding' AND NEW.account NOT LIKE 'external:%'";
  await dbRun(tg, "CREATE TABLE IF NOT EXISTS rel_negative_seen (account TEXT, currency TEXT, balance BIGINT)");
  if (isPostgres(tg)) {
    await dbRun(
      tg,
      `CREATE OR REPLACE FUNCTION rel_negative() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF ${cond} THEN INSERT INTO rel_negative_seen VALUES (NEW.account, NEW.currency, NEW.balance); END IF;
         RETURN NULL; END $$`,
    );
    await dbRun(tg, "CREATE OR REPLACE TRIGGER rel_neg AFTER INSERT OR UPDATE OF balance ON accounts FOR EACH ROW EXECUTE FUNCTION rel_negative()");
  } else {
    for (const [name, on] of [["rel_neg_upd", "UPDATE OF balance"], ["rel_neg_ins", "INSERT"]])
      await dbRun(tg, `CREATE TRIGGER IF NOT EXISTS ${name} AFTER ${on} ON accounts WHEN ${cond}
        BEGIN INSERT INTO rel_negative_seen VALUES (NEW.account, NEW.currency, NEW.balance); END`);
  }
  return () => dbRows(tg, "SELECT * FROM rel_negative_seen");
}

/** The ledger's entries summed per currency (BigInt), from the gateway's database on either engine. */
export async function ledgerSums(tg: Parameters<typeof dbRows>[0]): Promise<{ currency: string; s: bigint }[]> {
  const rows = await dbRows<{ currency: string; s: string }>(tg, "SELECT currency, CAST(SUM(delta) AS TEXT) AS s FROM ledger_entries GROUP BY currency");
  return rows.map((r) => ({ currency: r.currency, s: BigInt(r.s) }));
}

/** Sessions exactly as POST /app/pay creates them (createPaySession), minus the PNG rendering (9 ms each). */
export async function bulkSessions(tg: PortTestGateway, userId: string, n: number): Promise<string[]> {
  const now = tg.gw.clock();
  const ids = Array.from({ length: n }, () => hexOf(crypto.getRandomValues(new Uint8Array(16))));
  await tg.gw.store.transaction(async (tx) => {
    for (const id of ids)
      await tx.sessions.insert({ id, kind: "qr", userId, status: "pending", createdAt: now, expiresAt: now + tg.gw.config.sessionTtl });
  });
  return ids;
}

/** Runs `fn` over `items` with at most `width` in flight. */
export async function inBatches<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export async function waitUntil(what: string, pred: () => boolean | Promise<boolean>, ms = 20_000, tick = 25): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await Bun.sleep(tick);
  }
  if (await pred()) return;
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/**
 * A merchant's /transfer/webhook on a bare Bun.serve: records every delivery and answers `accepted` at once.
 * The merchant's published endpoint is pointed here, so bulk races do not spend the event loop on the test
 * peer's own (recovering) verification; recorded proofs are verified afterwards.
 */
export async function lightWebhook(peer: import("../peers/kit").TestPeer) {
  const got: { proof: any; signature: string; idempotencyKey: string | null; from: string | null }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = (await req.json().catch(() => null)) as { proof?: any; signature?: string } | null;
      if (!body?.proof) return Response.json({ error: { code: "INVALID_REQUEST", message: "no proof" } }, { status: 400 });
      got.push({ proof: body.proof, signature: String(body.signature), idempotencyKey: req.headers.get("idempotency-key"), from: req.headers.get("x-oc-id") });
      return Response.json({ status: "accepted", txid: body.proof.txid });
    },
  });
  const endpoint = `http://127.0.0.1:${server.port}/opencharge`;
  const config = { ...peer.metadataConfig(), endpoint };
  peer.setMetadata({ opencharge: "0.1", name: peer.name, config, signature: peer.signProof(config) });
  return { got, endpoint, stop: () => server.stop(true) };
}

/**
 * Counts every row written to any table except `skip`, through triggers in the gateway's database: cheap to read
 * (one row, from one connection kept open until `close`), so it can be checked around each of thousands of
 * requests. (An UPDATE that rewrites a row with the same values counts too: stricter than a digest, never laxer.)
 */
export async function watchWrites(
  tg: PortTestGateway,
  skip: string[] = ["nonces", "metadata_cache", "peer_dialects", "scheduler_lease"],
): Promise<{ count: () => Promise<number>; close: () => Promise<void> }> {
  const pg = isPostgres(tg);
  await dbRun(tg, "CREATE TABLE IF NOT EXISTS rel_writes (n BIGINT NOT NULL)");
  if (!(await dbRow(tg, "SELECT 1 AS one FROM rel_writes"))) await dbRun(tg, "INSERT INTO rel_writes VALUES (0)");
  const tables = await dbRows<{ name: string }>(
    tg,
    pg
      ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
      : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
  );
  const watched = tables.map((t) => t.name).filter((name) => !skip.includes(name) && !REL_TABLES.includes(name) && name !== "health_probe" && name !== "event_outbox"); // issue 15 bookkeeping
  if (pg) {
    await dbRun(tg, "CREATE OR REPLACE FUNCTION rel_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE rel_writes SET n = n + 1; RETURN NULL; END $$");
    for (const name of watched)
      await dbRun(tg, `CREATE OR REPLACE TRIGGER rel_w AFTER INSERT OR UPDATE OR DELETE ON "${name}" FOR EACH ROW EXECUTE FUNCTION rel_count()`);
  } else {
    for (const name of watched)
      for (const op of ["INSERT", "UPDATE", "DELETE"])
        await dbRun(tg, `CREATE TRIGGER IF NOT EXISTS rel_w_${name}_${op} AFTER ${op} ON "${name}" BEGIN UPDATE rel_writes SET n = n + 1; END`);
  }
  const reader = dbReader(tg);
  return { count: async () => Number((await reader.rows<{ n: number }>("SELECT n FROM rel_writes"))[0]!.n), close: reader.close };
}
