// Issue 22 sign-in sessions over the real server: a short-lived token kind with an absolute expiry and an idle
// timeout (clock injected), revoked by sign-out and by the operator's token rotation, bound to the web origin,
// and enrolment links that can do nothing but register a passkey. Refusals checked over HTTP and the WebSocket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { seedUser, app, WsClient } from "../helpers/wallet";
import { dbRow, dbRows } from "../helpers/inspect";
import { issueEnrolLink } from "../../src/flows/sign-in";
import { openDatabase } from "../../src/store/db";
import { sha256Hex } from "../../src/protocol/hash";
import { tokens } from "../../src/store/tokens";
import { conformsToDoc } from "../helpers/documented";

let tg: PortTestGateway;
let now = 1_800_000_000;
const TTL = 3600;
const IDLE = 600;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, sessions: { ttl: TTL, idleTimeout: IDLE, enrolTtl: 900 } }, { clock: () => now });
});
afterAll(() => tg?.close());

const wsUrl = () => tg.url.replace("http", "ws") + "/app/ws";

/** Opens a socket, authenticates with `token` (first message, or header), returns the first message or close. */
async function wsAttempt(token: string, opts: { header?: boolean; origin?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.header) headers.authorization = `Bearer ${token}`;
  if (opts.origin) headers.origin = opts.origin;
  const ws = new WebSocket(wsUrl(), { headers } as any);
  const first: { type?: string; code?: string }[] = [];
  const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
  await new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = reject)));
  if (!opts.header) ws.send(JSON.stringify({ type: "auth", token }));
  const ready = new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      first.push(JSON.parse(String(e.data)));
      if (first[0]?.type === "ready") resolve();
    };
  });
  const outcome = await Promise.race([closed.then((code) => ({ closed: code })), ready.then(() => ({ closed: 0 }))]);
  ws.close();
  return { ...outcome, messages: first };
}

async function exchange(operatorToken: string, origin?: string) {
  const res = await fetch(`${tg.url}/app/session`, {
    method: "POST",
    headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json", ...(origin ? { origin } : {}) },
    body: "{}",
  });
  return { status: res.status, json: (await res.json()) as any };
}

test("an operator token starts a short-lived session; the session works on HTTP and the socket; sign-out revokes it there too", async () => {
  const { user, token: operator } = await seedUser(tg, "sam", "USD:10.00");
  const r = await exchange(operator);
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({ expiresAt: now + TTL, idleTimeout: IDLE, user: { id: user.id, name: "sam" } });
  conformsToDoc(tg.gw, "POST /app/session", r.json);
  const session = r.json.token as string;
  expect(session).toMatch(/^[0-9a-f]{64}$/);
  expect(session).not.toBe(operator);
  const row = (await dbRow(tg, "SELECT kind, expires_at, idle_timeout FROM app_tokens WHERE token_hash = ?", sha256Hex(session)));
  expect(row).toEqual({ kind: "session", expires_at: now + TTL, idle_timeout: IDLE });

  expect((await app(tg, session, "GET", "/app/me")).json.user.name).toBe("sam");
  const ws = await WsClient.open(tg, { token: session });
  expect(ws.messages[0]).toMatchObject({ type: "ready", user: { id: user.id } });
  expect((await wsAttempt(session, { header: true })).messages[0]).toMatchObject({ type: "ready" });

  // A session cannot mint sessions (it would never expire).
  const again = await exchange(session);
  expect(again).toMatchObject({ status: 403, json: { error: { code: "UNAUTHORIZED", details: { reason: "token_kind" } } } });

  const out = await app(tg, session, "POST", "/app/signout", {});
  expect(out).toMatchObject({ status: 200, json: { signedOut: true } });
  conformsToDoc(tg.gw, "POST /app/signout", out.json);
  // The socket opened with it is closed by the revocation (issue 23's re-checks), not left streaming.
  expect((await ws.waitClose(3000)).code).toBe(4401);
  const refused = await app(tg, session, "GET", "/app/me");
  expect(refused).toMatchObject({ status: 401, json: { error: { code: "INVALID_TOKEN" } } });
  expect(await wsAttempt(session)).toMatchObject({ closed: 4401, messages: [{ type: "error", code: "INVALID_TOKEN" }] });
  expect(await wsAttempt(session, { header: true })).toMatchObject({ closed: 4401 });
  // Signing out twice is a refused token, not a 500; the operator token itself is untouched.
  expect((await app(tg, session, "POST", "/app/signout", {})).status).toBe(401);
  expect((await app(tg, operator, "GET", "/app/me")).status).toBe(200);
});

test("idle timeout and absolute expiry: refused over HTTP and the socket once passed, activity only postpones the idle one", async () => {
  const start = now;
  const { token: operator } = await seedUser(tg, "ida");
  const a = (await exchange(operator)).json.token as string;
  const b = (await exchange(operator)).json.token as string;
  // a stays active every 5 minutes; b is left alone.
  for (let i = 0; i < 11; i++) {
    now += 300;
    expect((await app(tg, a, "GET", "/app/me")).status).toBe(200);
  }
  expect(now - start).toBe(3300);
  expect((await app(tg, b, "GET", "/app/me")).status).toBe(401); // idle 3300 s > 600 s
  expect(await wsAttempt(b)).toMatchObject({ closed: 4401 });
  expect(await wsAttempt(b, { header: true })).toMatchObject({ closed: 4401 });
  expect((await WsClient.open(tg, { token: a })).messages[0]!.type).toBe("ready");

  now = start + TTL; // the last second of the absolute lifetime
  expect((await app(tg, a, "GET", "/app/me")).status).toBe(200);
  now = start + TTL + 1;
  expect((await app(tg, a, "GET", "/app/me")).json.error.code).toBe("INVALID_TOKEN");
  expect(await wsAttempt(a)).toMatchObject({ closed: 4401 });
  // The operator token has no idle timeout.
  expect((await app(tg, operator, "GET", "/app/me")).status).toBe(200);
});

test("a session bound to our web origin is refused from another origin (HTTP and WebSocket upgrade)", async () => {
  const { token: operator } = await seedUser(tg, "ori");
  const ours = new URL(tg.gw.config.webBaseUrl).origin;
  expect((await exchange(operator, "https://evil.example")).json.error.details.reason).toBe("origin");
  const s = (await exchange(operator, ours)).json.token as string;
  const from = (origin: string) => fetch(`${tg.url}/app/me`, { headers: { authorization: `Bearer ${s}`, origin } });
  expect((await from(ours)).status).toBe(200);
  const evil = await from("https://evil.example");
  expect(evil.status).toBe(401);
  expect(((await evil.json()) as any).error.details.reason).toBe("origin");
  expect(await wsAttempt(s, { origin: "https://evil.example" })).toMatchObject({ closed: 4401 });
  expect((await wsAttempt(s, { origin: ours })).messages[0]).toMatchObject({ type: "ready" });
});

test("the operator's token rotation (`users token`) revokes every session of that user", async () => {
  const { user, token: operator } = await seedUser(tg, "rot");
  const s = (await exchange(operator)).json.token as string;
  await tg.gw.store.transaction((tx) => tx.users.rotateToken(user.id, now));
  expect((await app(tg, s, "GET", "/app/me")).status).toBe(401);
  expect((await app(tg, operator, "GET", "/app/me")).status).toBe(401);
});

test("an enrolment link's token can only register a passkey: refused on the app API and the socket, and expires", async () => {
  await seedUser(tg, "eve", "USD:5.00");
  const link = await issueEnrolLink(tg.gw, "test", (await tg.gw.store.read((tx) => tx.users.byName("eve")))!);
  expect(link.url).toStartWith(`${tg.gw.config.webBaseUrl}/#enrol=`);
  expect(link.expiresAt).toBe(now + 900);
  const enrol = link.url.split("#enrol=")[1]!;
  for (const [method, path] of [["GET", "/app/me"], ["POST", "/app/pay"], ["GET", "/app/history"]] as const) {
    const r = await app(tg, enrol, method, path, method === "POST" ? {} : undefined);
    expect(r).toMatchObject({ status: 403, json: { error: { code: "UNAUTHORIZED", details: { reason: "enrol_only" } } } });
  }
  expect((await exchange(enrol)).status).toBe(403);
  expect(await wsAttempt(enrol)).toMatchObject({ closed: 4401 });
  
  now += 901;
  expect((await app(tg, enrol, "GET", "/app/me")).status).toBe(401);
});

test("a database made before session tokens migrates: existing tokens become operator tokens and keep working", () => {
  const dir = mkdtempSync(join(tmpdir(), "oc-mig22-"));
  const path = join(dir, "gateway.sqlite");
  const old = new Database(path, { create: true, strict: true });
  // The base schema's app tables as schema.sql created them before this change (schema_version 1, no migrations).
  old.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL);
    INSERT INTO schema_version VALUES (1, 0);
    CREATE TABLE app_users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
    CREATE TABLE app_tokens (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id),
      created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER);
    INSERT INTO app_users VALUES ('u1', 'old', 1);`);
  const token = "ab".repeat(32);
  old.query("INSERT INTO app_tokens (token_hash, user_id, created_at) VALUES (?, 'u1', 1)").run(sha256Hex(token));
  old.close();
  const db = openDatabase(path, "NORMAL");
  const got = tokens(db).use(token, now);
  expect(got?.user.name).toBe("old");
  expect(got?.grant).toMatchObject({ kind: "operator", expiresAt: null, idleTimeout: null, origin: null });
  expect(() => db.exec("UPDATE app_tokens SET kind = 'other'")).toThrow();
  db.close();
});

test("the admin API issues enrolment links too (users:write), audited without the secret", async () => {
  const { admin, apiKey } = await import("../helpers/admin");
  const { user } = await seedUser(tg, "adm-enrol");
  const key = await apiKey(tg, "enrol-issuer", ["users:write"]);
  const r = await admin(tg, key, "POST", `/admin/users/${user.id}/enrol-link`);
  expect(r.status).toBe(201);
  expect(r.json).toMatchObject({ user: { id: user.id, name: "adm-enrol" }, expiresAt: now + 900 });
  const token = (r.json.url as string).split("#enrol=")[1]!;
  expect((await tg.gw.store.transaction((tx) => tx.tokens.use(token, now)))?.grant.kind).toBe("enrol");
  const audit = (await dbRows<{ actor: string; action: string; args: string }>(tg, "SELECT actor, action, args FROM audit_log WHERE action = 'users.enrol_link'"));
  expect(audit.at(-1)).toEqual({ actor: "enrol-issuer", action: "users.enrol_link", args: JSON.stringify({ userId: user.id }) });
  expect(JSON.stringify(audit)).not.toContain(token);
});
