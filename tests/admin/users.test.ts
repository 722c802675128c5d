// Issue 16: API keys, users, credits/debits with Idempotency-Key, freezing, and the audit log — over HTTP.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow, dbRows, dbRun } from "../helpers/inspect";
import { admin, apiKey, oc } from "../helpers/admin";
import { thrown } from "../helpers/settled";

let tg: PortTestGateway;
let key: string;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS });
  key = await apiKey(tg, "backoffice", ["users:read", "users:write", "funds:write", "audit:read"]);
});
afterAll(() => tg.close());
afterEach(() => assertPortLedgerBalanced(tg));

test("apikeys create prints the key alone on the last line, stores only its hash; list; revoke → 401", async () => {
  const r = await oc(tg, "apikeys", "create", "temp", "--scopes", "users:read");
  expect(r.code).toBe(0);
  const k = r.out.at(-1)!;
  expect(k).toMatch(/^ock_[0-9a-f]{64}$/);
  const stored = (await dbRow<{ key_hash: string }>(tg, "SELECT key_hash FROM api_keys WHERE name = 'temp'"))!;
  expect(stored.key_hash).not.toContain(k.slice(4));
  expect(JSON.stringify((await dbRows(tg, "SELECT * FROM api_keys")))).not.toContain(k.slice(4));
  expect((await admin(tg, k, "GET", "/admin/users")).status).toBe(200);
  const list = await oc(tg, "apikeys", "list");
  expect(list.out.join("\n")).toMatch(/temp\tusers:read\t.*\tactive/);
  expect((await oc(tg, "apikeys", "create", "bad", "--scopes", "users:read,root")).code).toBe(1);
  expect((await oc(tg, "apikeys", "revoke", "temp")).code).toBe(0);
  const revoked = await admin(tg, k, "GET", "/admin/users");
  expect(revoked.status).toBe(401);
  expect(revoked.json.error.code).toBe("INVALID_TOKEN");
  expect((await admin(tg, "ock_" + "0".repeat(64), "GET", "/admin/users")).status).toBe(401);
  expect((await admin(tg, null, "GET", "/admin/users")).status).toBe(401);
  // Keys never reach the logs.
  expect(tg.logs.join("\n")).not.toContain(k.slice(4));
});

test("users: create → 201 {user, token}; the token works on /app; get; list with cursor pages; rotate token", async () => {
  const c = await admin(tg, key, "POST", "/admin/users", { name: "erin" });
  expect(c.status).toBe(201);
  expect(Object.keys(c.json).sort()).toEqual(["token", "user"]);
  expect(c.json.user).toEqual({ id: expect.any(String), name: "erin" });
  expect((await app(tg, c.json.token, "GET", "/app/me")).json.user.name).toBe("erin");
  const g = await admin(tg, key, "GET", `/admin/users/${c.json.user.id}`);
  expect(g.json).toMatchObject({ user: { id: c.json.user.id, name: "erin", frozen: false }, balances: [{ currency: "EUR", amount: "0.00" }, { currency: "USD", amount: "0.00" }], limits: {} });
  expect((await admin(tg, key, "GET", "/admin/users/nosuch")).status).toBe(404);
  expect((await admin(tg, key, "POST", "/admin/users", { name: "erin" })).status).toBe(400);
  for (const n of ["p1", "p2", "p3"]) await admin(tg, key, "POST", "/admin/users", { name: n });
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin(tg, key, "GET", `/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    expect(page.json.items.length).toBeLessThanOrEqual(2);
    seen.push(...page.json.items.map((u: { name: string }) => u.name));
    cursor = page.json.nextCursor;
  } while (cursor);
  expect(seen).toEqual(expect.arrayContaining(["erin", "p1", "p2", "p3"]));
  expect(new Set(seen).size).toBe(seen.length);
  const rot = await admin(tg, key, "POST", `/admin/users/${c.json.user.id}/token`);
  expect(rot.status).toBe(200);
  expect((await app(tg, c.json.token, "GET", "/app/me")).status).toBe(401);
  expect((await app(tg, rot.json.token, "GET", "/app/me")).status).toBe(200);
});

test("credits and debits are ledger movements; a debit beyond the balance is 402 and writes nothing", async () => {
  const { json } = await admin(tg, key, "POST", "/admin/users", { name: "frank" });
  const id = json.user.id;
  const cr = await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: "30.00" });
  expect(cr.status).toBe(201);
  expect(cr.json.movement).toMatchObject({ kind: "credit", account: `user:${id}`, currency: "USD", amount: "30.00", balance: "30.00" });
  const db = await admin(tg, key, "POST", `/admin/users/${id}/debits`, { currency: "USD", amount: "12.50" });
  expect(db.status).toBe(201);
  expect(db.json.movement).toMatchObject({ kind: "debit", amount: "12.50", balance: "17.50" });
  const over = await admin(tg, key, "POST", `/admin/users/${id}/debits`, { currency: "USD", amount: "17.51" });
  expect(over.status).toBe(402);
  expect((await portBalance(tg, `user:${id}`))).toBe(1750n);
  expect((await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: "1.001" })).json.error.code).toBe("INVALID_AMOUNT");
  expect((await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: 5 })).status).toBe(400);
});

test("Idempotency-Key: 20 concurrent retries make one movement and get the same answer; other body → 422; in flight → 409", async () => {
  const { json } = await admin(tg, key, "POST", "/admin/users", { name: "gina" });
  const id = json.user.id;
  const body = { currency: "USD", amount: "7.25" };
  const h = { "idempotency-key": "dep-1" };
  const rs = await Promise.all(Array.from({ length: 20 }, () => admin(tg, key, "POST", `/admin/users/${id}/credits`, body, h)));
  expect(rs.every((r) => r.status === 201)).toBe(true);
  expect(new Set(rs.map((r) => r.text)).size).toBe(1);
  expect((await portBalance(tg, `user:${id}`))).toBe(725n);
  const movements = (await dbRows(tg, "SELECT DISTINCT movement_id FROM ledger_entries WHERE account = ?", `user:${id}`));
  expect(movements.length).toBe(1);
  const other = await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: "7.26" }, h);
  expect(other.status).toBe(422);
  expect(other.json.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
  // The same key on a debit is another request too.
  expect((await admin(tg, key, "POST", `/admin/users/${id}/debits`, body, h)).status).toBe(422);
  // Another process (a second connection) holds a claim on a key: the request is in flight.
  const now = Math.floor(Date.now() / 1000);
  const { createHash } = await import("node:crypto");
  const req = `POST /admin/users/${id}/credits ${JSON.stringify(body)}`;
  await dbRun(
    tg,
    "INSERT INTO admin_idempotency (actor, key, request_hash, state, created_at) VALUES ('backoffice', 'dep-2', ?, 'in_flight', ?)",
    createHash("sha256").update(req).digest("hex"),
    now,
  );
  const busy = await admin(tg, key, "POST", `/admin/users/${id}/credits`, body, { "idempotency-key": "dep-2" });
  expect(busy.status).toBe(409);
  expect(busy.json.error.code).toBe("IDEMPOTENCY_IN_PROGRESS");
  expect((await portBalance(tg, `user:${id}`))).toBe(725n);
  // A refused request frees its key: the corrected retry runs.
  const k3 = { "idempotency-key": "dep-3" };
  expect((await admin(tg, key, "POST", `/admin/users/${id}/debits`, { currency: "USD", amount: "99.00" }, k3)).status).toBe(402);
  expect((await admin(tg, key, "POST", `/admin/users/${id}/debits`, { currency: "USD", amount: "99.00" }, k3)).status).toBe(402);
  expect((await admin(tg, key, "POST", `/admin/users/${id}/debits`, { currency: "USD", amount: "1.00" }, { "idempotency-key": "dep-4" })).status).toBe(201);
});

test("a frozen user cannot start a payment or receive; unfreeze restores both", async () => {
  const { json } = await admin(tg, key, "POST", "/admin/users", { name: "hal" });
  const id = json.user.id;
  const f = await admin(tg, key, "POST", `/admin/users/${id}/freeze`);
  expect(f.json.user.frozen).toBe(true);
  const pay = await app(tg, json.token, "POST", "/app/pay", {});
  expect(pay.status).toBe(403);
  expect(pay.json.error.code).toBe("ACCOUNT_FROZEN");
  const cr = await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: "1.00" });
  expect(cr.status).toBe(403);
  expect((await portBalance(tg, `user:${id}`))).toBe(0n);
  expect((await admin(tg, key, "POST", `/admin/users/${id}/unfreeze`)).json.user.frozen).toBe(false);
  expect((await app(tg, json.token, "POST", "/app/pay", {})).status).toBe(200);
  expect((await admin(tg, key, "POST", `/admin/users/${id}/credits`, { currency: "USD", amount: "1.00" })).status).toBe(201);
});

test("the audit log has a row per mutation (API and CLI), redacts secrets, and the database refuses UPDATE and DELETE", async () => {
  const before = (await admin(tg, key, "GET", "/admin/audit?limit=1")).json.items[0].id as number;
  const { json } = await admin(tg, key, "POST", "/admin/users", { name: "ivy" });
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/credits`, { currency: "USD", amount: "3.00" });
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/freeze`);
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/token`);
  await admin(tg, key, "POST", `/admin/users/${json.user.id}/debits`, { currency: "USD", amount: "9.00" }); // refused: no row
  await oc(tg, "users", "credit", "ivy", "USD:1.00"); // refused: frozen
  await oc(tg, "users", "unfreeze", "ivy");
  await oc(tg, "users", "credit", "ivy", "USD:1.00");
  await oc(tg, "apikeys", "create", "x-key", "--scopes", "orders:read");
  const rows = (await admin(tg, key, "GET", "/admin/audit?limit=50")).json.items.filter((r: { id: number }) => r.id > before).reverse();
  expect(rows.map((r: { actor: string; action: string }) => `${r.actor} ${r.action}`)).toEqual([
    "backoffice users.create",
    "backoffice users.credit",
    "backoffice users.freeze",
    "backoffice users.rotate_token",
    "cli users.unfreeze",
    "cli users.credit",
    "cli apikeys.create",
  ]);
  expect(rows[1].args).toMatchObject({ userId: json.user.id, currency: "USD", amount: "3.00" });
  expect(rows.every((r: { at: number }) => Math.abs(r.at - Date.now() / 1000) < 60)).toBe(true);
  expect(JSON.stringify(rows)).not.toContain(json.token);
  expect(await thrown(dbRun(tg, "UPDATE audit_log SET actor = 'someone else'"))).toThrow(/append-only/);
  expect(await thrown(dbRun(tg, "DELETE FROM audit_log"))).toThrow(/append-only/);
  expect((await admin(tg, key, "GET", "/admin/audit?limit=50")).json.items.length).toBeGreaterThanOrEqual(7);
});

test("the CLI commands later issues added (users set-ocid, ledger fund-peer, directory set) append audit rows too", async () => {
  const before = (await admin(tg, key, "GET", "/admin/audit?limit=1")).json.items[0].id as number;
  await admin(tg, key, "POST", "/admin/users", { name: "jules" });
  expect((await oc(tg, "users", "set-ocid", "jules", "777001")).code).toBe(0);
  expect((await oc(tg, "ledger", "fund-peer", "9101", "USD:5.00")).code).toBe(0);
  expect((await oc(tg, "directory", "set", "9101", "--encoding", "der")).code).toBe(0);
  const rows = (await admin(tg, key, "GET", "/admin/audit?limit=50")).json.items.filter((r: { id: number }) => r.id > before).reverse();
  expect(rows.map((r: { actor: string; action: string }) => `${r.actor} ${r.action}`)).toEqual([
    "backoffice users.create",
    "cli users.set-ocid",
    "cli ledger.fund-peer",
    "cli directory.set",
  ]);
  expect(rows[1].args).toMatchObject({ ocid: 777001 });
  expect(rows[2].args).toMatchObject({ ocid: 9101, currency: "USD", amount: "5.00" });
  expect(rows[3].args).toMatchObject({ ocid: 9101, encoding: "der", hash: null });
});
