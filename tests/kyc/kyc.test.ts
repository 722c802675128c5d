// Issue 21: KYC through a provider peer with its own key. start → grant URL with a single-use state; callback →
// signed /kyc/validate and /kyc/data; the data signature decides what is verified; the tier follows, and expires.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { app, assertPortLedgerBalanced, portBalance } from "../helpers/wallet";
import { dbRow, dbRows, dbDigestOf } from "../helpers/inspect";
import { admin, apiKey } from "../helpers/admin";
import { orderFor, startMerchant, submitOrder } from "../helpers/merchant";
import { startPosMerchant } from "../helpers/scan-merchants";
import { KycProvider } from "../helpers/kyc-provider";
import type { TestPeer } from "../peers/kit";
import { KYC_TIERS } from "./config";
import { setUserOcid } from "../../src/flows/end-user-ocid";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import * as S from "../../src/app/schemas";

const conforms = (schema: Parameters<typeof TypeCompiler.Compile>[0], v: unknown) => expect([...TypeCompiler.Compile(schema).Errors(v)].map((e) => e.path + " " + e.message)).toEqual([]);

let tg: PortTestGateway;
let key: string;
let provider: KycProvider;
let merchant: TestPeer;
let offset = 0;
let nextOcid = 7000;

beforeAll(async () => {
  tg = await startPortTestGateway(
    { rateLimits: NO_RATE_LIMITS, maxPendingSessions: 100, kyc: { providers: [900], tiers: KYC_TIERS } },
    { clock: () => Math.floor(Date.now() / 1000) + offset },
  );
  key = await apiKey(tg, "kyc", ["users:read", "users:write", "funds:write", "audit:read"]);
  provider = await KycProvider.start(tg, 900);
  merchant = await startMerchant(tg, 500);
});
afterAll(async () => {
  await provider.stop();
  await merchant.stop();
  await tg.close();
});

async function user(name: string, credit = "100.00") {
  const { json } = await admin(tg, key, "POST", "/admin/users", { name });
  if (credit !== "0") await admin(tg, key, "POST", `/admin/users/${json.user.id}/credits`, { currency: "USD", amount: credit });
  return { id: json.user.id as string, token: json.token as string, ocid: nextOcid++ };
}

async function start(u: { token: string; ocid: number }) {
  const r = await app(tg, u.token, "POST", "/app/kyc/start", { userOcid: u.ocid });
  expect(r.status).toBe(200);
  conforms(S.KycStarted, r.json);
  const url = new URL(r.json.url);
  return { ...r.json, state: url.searchParams.get("state")!, query: url.searchParams };
}

const callback = (state: string, status = "granted") =>
  fetch(`${tg.url}/opencharge/kyc/callback?status=${status}&state=${state}`, { redirect: "manual" });

async function verifyWith(u: { token: string; ocid: number }, d: Parameters<KycProvider["decide"]>[1]) {
  provider.decide(u.ocid, d);
  const s = await start(u);
  const res = await callback(s.state);
  return { res, location: res.headers.get("location"), json: res.status === 303 ? null : await res.json(), state: s.state };
}

async function pay(token: string, amount: string) {
  const s = (await app(tg, token, "POST", "/app/pay", {})).json;
  expect((await submitOrder(merchant, tg, s.sessionId, orderFor(merchant, tg, { amount }))).status).toBe(200);
  return app(tg, token, "POST", `/app/confirm/${s.sessionId}`, {});
}

test("metadata lists the configured KYC providers", async () => {
  const md = await (await fetch(`${tg.url}/opencharge/metadata.json`)).json();
  expect(md.kyc).toEqual([900]);
});

test("start: the provider's grant URL, under its endpoint, with our callback and a random single-use state", async () => {
  const u = await user("kstart");
  const a = await start(u);
  const b = await start(u);
  expect(a.url.startsWith(`${provider.peer.endpoint}/kyc/grant/200?`)).toBe(true);
  expect(a.query.get("grants")).toBe("address,identity");
  expect(a.query.get("user_ocid")).toBe(String(u.ocid));
  expect(a.query.get("callback_url")).toBe(`${tg.gw.config.endpoint}/kyc/callback`);
  expect(a.state).toMatch(/^[0-9a-f]{64}$/);
  expect(a.state).not.toBe(b.state);
  // Only the state's hash is stored.
  expect((await dbRow(tg, "SELECT COUNT(*) AS n FROM kyc_states WHERE state_hash = ?", a.state))).toEqual({ n: 0 });
  // Without an OCID (none given, none held) the start says what to send.
  const noOcid = await app(tg, u.token, "POST", "/app/kyc/start", {});
  expect(noOcid.status).toBe(400);
  expect(noOcid.json.error).toMatchObject({ code: "INVALID_REQUEST", details: { fields: ["userOcid"] } });
  const other = await app(tg, u.token, "POST", "/app/kyc/start", { provider: 901, userOcid: 1 });
  expect(other.json.error).toMatchObject({ code: "INVALID_REQUEST", details: { fields: ["provider"] } });
  // The user's own OCID is used when they hold one.
  await setUserOcid(tg.gw, "kstart", String(u.ocid));
  const own = await app(tg, u.token, "POST", "/app/kyc/start", {});
  expect(new URL(own.json.url).searchParams.get("user_ocid")).toBe(String(u.ocid));
});

test("granted: signed validate and data, replacer-form data signature; tier full, nothing personal stored", async () => {
  const u = await user("kfull");
  expect((await app(tg, u.token, "GET", "/app/kyc")).json).toMatchObject({ tier: "basic", source: "default", limits: { USD: { per_payment: "50.00" } }, canVerify: true });
  const before = provider.peer.received.length;
  const r = await verifyWith(u, {
    statuses: { identity: "granted", address: "granted" },
    data: { identity: { name: "Ada Lovelace", document_image_url: "https://img.example/passport.jpg" }, address: "1 Analytical St" },
  });
  expect(r.res.status).toBe(303);
  expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=granted&tier=full`);
  const calls = provider.peer.received.slice(before).filter((q) => q.method === "POST");
  expect(calls.map((q) => q.path)).toEqual(["/opencharge/kyc/validate", "/opencharge/kyc/data"]);
  expect(calls.every((q) => q.authentic)).toBe(true);
  expect(calls[0]!.json).toEqual({ user_ocid: u.ocid, grants: ["address", "identity"] });
  const view = (await app(tg, u.token, "GET", "/app/kyc")).json;
  conforms(S.KycView, view);
  expect(view).toMatchObject({ tier: "full", source: "kyc", limits: { USD: { per_payment: "5000.00", per_day: "10000.00", max_balance: "20000.00" } } });
  expect(view.grants.map((g: any) => [g.grant, g.status, g.verified])).toEqual([["address", "granted", true], ["identity", "granted", true]]);
  // No personal data, no document URL anywhere in the database.
  const dump = JSON.stringify((await dbRows(tg, "SELECT * FROM kyc_grants")));
  for (const s of ["Ada", "Lovelace", "passport", "img.example", "Analytical"]) expect(dump).not.toContain(s);
  expect((await dbRow(tg, "SELECT signed_form FROM kyc_grants WHERE user_id = ? AND grant_name = 'identity'", u.id))).toEqual({ signed_form: "data-replacer" });
  // The higher tier's limit now applies: 60.00 passes (basic's 50.00 would not).
  expect((await pay(u.token, "60.00")).status).toBe(200);
});

test("a provider signing the whole envelope in the deep form is accepted too (objects-shaped validate)", async () => {
  const u = await user("kenv");
  const r = await verifyWith(u, { statuses: { identity: "granted", address: "granted" }, sign: "envelope", validateShape: "objects" });
  expect(r.location).toContain("kyc=granted&tier=full");
});

test("partial: identity granted, address denied → tier verified", async () => {
  const u = await user("kpart");
  const r = await verifyWith(u, { statuses: { identity: "granted", address: "denied" } });
  expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=partial&tier=verified`);
  const d = (await admin(tg, key, "GET", `/admin/users/${u.id}`)).json;
  expect(d.tier).toMatchObject({ name: "verified", source: "kyc", verifiedGrants: ["identity"], limitsInForce: { USD: { per_payment: "500.00" } } });
});

test("denied: no data asked for, tier stays basic", async () => {
  const u = await user("kdeny");
  const before = provider.peer.received.length;
  const r = await verifyWith(u, { statuses: {} });
  expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=denied&tier=basic`);
  expect(provider.peer.received.slice(before).some((q) => q.path.endsWith("/kyc/data"))).toBe(false);
  expect((await pay(u.token, "50.01")).json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", tier: "basic" } });
});

test("forged, replayed and expired state: KYC_STATE_INVALID, nothing asked of the provider, nothing stored", async () => {
  const u = await user("kstate");
  provider.decide(u.ocid, { statuses: { identity: "granted", address: "granted" } });
  const forged = await callback("ab".repeat(32));
  expect(forged.status).toBe(400);
  expect((await forged.json()).error).toMatchObject({ code: "KYC_STATE_INVALID", details: { reason: "unknown" } });
  expect((await (await callback("nothex")).json()).error.code).toBe("KYC_STATE_INVALID");
  expect((await (await fetch(`${tg.url}/opencharge/kyc/callback`)).json()).error.code).toBe("KYC_STATE_INVALID");
  const s = await start(u);
  expect((await callback(s.state)).status).toBe(303);
  const digest = (await dbDigestOf(tg));
  const sent = provider.peer.received.length;
  const replay = await callback(s.state);
  expect(replay.status).toBe(400);
  expect((await replay.json()).error).toMatchObject({ code: "KYC_STATE_INVALID", details: { reason: "used" } });
  expect(provider.peer.received.length).toBe(sent);
  expect((await dbDigestOf(tg))).toBe(digest);
  // Two arrivals at once: one is processed, the other refused.
  const s2 = await start(u);
  const both = await Promise.all([callback(s2.state), callback(s2.state)]);
  expect(both.map((b) => b.status).sort()).toEqual([303, 400]);
  // Expired: the state's lifetime (900 s) has passed.
  const s3 = await start(u);
  offset += 901;
  try {
    const late = await callback(s3.state);
    expect((await late.json()).error).toMatchObject({ code: "KYC_STATE_INVALID", details: { reason: "expired" } });
  } finally {
    offset -= 901;
  }
});

test("a data signature that does not verify (other key, tampered data) verifies nothing", async () => {
  for (const sign of ["wrong-key", "tampered"] as const) {
    const u = await user(`kbad${sign.length}`);
    const r = await verifyWith(u, { statuses: { identity: "granted", address: "granted" }, sign });
    expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=unverified&tier=basic`);
    const v = (await app(tg, u.token, "GET", "/app/kyc")).json;
    expect(v.tier).toBe("basic");
    expect(v.grants.every((g: any) => g.status === "granted" && g.verified === false)).toBe(true);
  }
});

test("replacer form: a grant whose value is only nested (signed as {}) counts by presence; null/false do not", async () => {
  const u = await user("knest");
  const r = await verifyWith(u, { statuses: { identity: "granted", address: "granted" }, data: { identity: { level: 2 }, address: false } });
  expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=partial&tier=verified`);
});

test("expired data counts for nothing; verified data that expires later moves the user back", async () => {
  const u = await user("kexp");
  const r = await verifyWith(u, { statuses: { identity: "granted", address: "granted" }, expiresIn: -5 });
  expect(r.location).toBe(`${tg.gw.config.webBaseUrl}/?kyc=expired&tier=basic`);
  const r2 = await verifyWith(u, { statuses: { identity: "granted", address: "granted" }, expiresIn: 120 });
  expect(r2.location).toContain("tier=full");
  expect((await pay(u.token, "60.00")).status).toBe(200);
  offset += 121;
  try {
    const v = (await app(tg, u.token, "GET", "/app/kyc")).json;
    expect(v).toMatchObject({ tier: "basic", source: "default" });
    expect(v.grants.every((g: any) => g.status === "expired" && !g.verified)).toBe(true);
    expect((await pay(u.token, "50.01")).json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", tier: "basic" } });
  } finally {
    offset -= 121;
  }
});

test("a provider answer without a valid response signature is refused (502), the state stays used", async () => {
  const u = await user("kunsigned");
  provider.peer.route("POST", "/kyc/validate", (req) => ({ body: { user_ocid: req.json.user_ocid, grants: { identity: "granted" } }, sign: false }));
  try {
    const r = await verifyWith(u, { statuses: { identity: "granted" } });
    expect(r.res.status).toBe(502);
    expect(r.json.error).toMatchObject({ code: "METADATA_UNAVAILABLE", details: { reason: "kyc_validate_unsigned" } });
    expect((await app(tg, u.token, "GET", "/app/kyc")).json.tier).toBe("basic");
  } finally {
    provider = new KycProvider(provider.peer);
  }
});

test("admin: shows the tier, pins one with an audit row, unpins; a per-user limit stays on top of the tier", async () => {
  const u = await user("kadmin");
  expect((await admin(tg, key, "GET", `/admin/users/${u.id}`)).json.tier).toEqual({
    name: "basic", source: "default", pinned: null, verifiedGrants: [], limitsInForce: { USD: { per_payment: "50.00", per_day: "100.00", max_balance: "200.00" } },
  });
  const pin = await admin(tg, key, "PUT", `/admin/users/${u.id}/tier`, { tier: "verified" });
  expect(pin.status).toBe(200);
  expect(pin.json.tier).toMatchObject({ name: "verified", source: "operator", pinned: "verified" });
  const audit = (await admin(tg, key, "GET", "/admin/audit")).json.items.find((a: any) => a.action === "users.set_tier");
  expect(audit).toMatchObject({ actor: "kyc", args: { userId: u.id, tier: "verified", before: "basic" } });
  expect((await admin(tg, key, "PUT", `/admin/users/${u.id}/tier`, { tier: "gold" })).json.error).toMatchObject({ code: "INVALID_REQUEST", details: { fields: ["tier"] } });
  await admin(tg, key, "PUT", `/admin/users/${u.id}/limits`, { currency: "USD", perPayment: "70.00" });
  expect((await admin(tg, key, "GET", `/admin/users/${u.id}`)).json.tier.limitsInForce.USD).toEqual({ per_payment: "70.00", per_day: "1000.00", max_balance: "2000.00" });
  expect((await pay(u.token, "70.01")).json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", max: "70.00" } });
  expect((await pay(u.token, "70.00")).status).toBe(200);
  const unpin = await admin(tg, key, "PUT", `/admin/users/${u.id}/tier`, { tier: null });
  expect(unpin.json.tier).toMatchObject({ name: "basic", source: "default", pinned: null });
  await assertPortLedgerBalanced(tg);
});

for (const tier of KYC_TIERS) {
  test(`tier ${tier.name}: each limit exactly at the boundary passes, one cent more is LIMIT_EXCEEDED and changes nothing`, async () => {
    const L = tier.limits.USD;
    const u = await user(`kb${tier.name}`, "0");
    await admin(tg, key, "PUT", `/admin/users/${u.id}/tier`, { tier: tier.name });
    // max_balance: a credit up to the limit exactly, then one cent more.
    expect((await admin(tg, key, "POST", `/admin/users/${u.id}/credits`, { currency: "USD", amount: L.maxBalance })).status).toBe(201);
    const over = await admin(tg, key, "POST", `/admin/users/${u.id}/credits`, { currency: "USD", amount: "0.01" });
    expect(over.status).toBe(422);
    expect(over.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "max_balance", max: L.maxBalance, tier: tier.name } });
    // per_payment
    const big = await pay(u.token, (Number(L.perPayment) + 0.01).toFixed(2));
    expect(big.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", max: L.perPayment, tier: tier.name } });
    expect((await pay(u.token, L.perPayment)).status).toBe(200);
    // per_day: the rest of the day's allowance exactly, then one cent.
    expect((await pay(u.token, (Number(L.perDay) - Number(L.perPayment)).toFixed(2))).status).toBe(200);
    const day = await pay(u.token, "0.01");
    expect(day.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_day", max: L.perDay, tier: tier.name } });
    expect((await portBalance(tg, `user:${u.id}`))).toBe(BigInt(Math.round((Number(L.maxBalance) - Number(L.perDay)) * 100)));
    // A transfer to another user is a payment too, and the recipient's max_balance holds.
    const friend = await user(`kf${tier.name}`, "0");
    const t = await app(tg, u.token, "POST", "/app/transfer", { to: `user_${friend.id}`, amount: "0.01", currency: "USD", idempotencyKey: `k-${tier.name}` });
    expect(t.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_day" } });
    await assertPortLedgerBalanced(tg);
  });
}

test("transfers: the recipient's tier max_balance refuses a transfer that would pass it", async () => {
  const a = await user("ktra", "150.00");
  const b = await user("ktrb", "190.00");
  const t = await app(tg, a.token, "POST", "/app/transfer", { to: `user_${b.id}`, amount: "10.01", currency: "USD", idempotencyKey: "ktr-1" });
  expect(t.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "max_balance", max: "200.00", tier: "basic" } });
  expect((await app(tg, a.token, "POST", "/app/transfer", { to: `user_${b.id}`, amount: "10.00", currency: "USD", idempotencyKey: "ktr-2" })).status).toBe(200);
});

test("scan payments: a scanned POS order over the tier's per-payment limit is refused at confirm; verifying lifts it", async () => {
  const pos = await startPosMerchant(tg, 510, "Corner Café");
  try {
    const u = await user("kscan", "150.00");
    const scanned = async (amount: string) => {
      const { qr } = pos.show({ amount, items: undefined });
      const r = await app(tg, u.token, "POST", "/app/scan", { qrContent: qr });
      expect(r.status).toBe(200);
      return app(tg, u.token, "POST", `/app/confirm/${r.json.sessionId}`, {});
    };
    const over = await scanned("50.01");
    expect(over.status).toBe(422);
    expect(over.json.error).toMatchObject({ code: "LIMIT_EXCEEDED", details: { limit: "per_payment", max: "50.00", tier: "basic" } });
    expect((await scanned("50.00")).status).toBe(200);
    await verifyWith(u, { statuses: { identity: "granted" } });
    expect((await scanned("50.01")).status).toBe(200);
  } finally {
    await pos.peer.stop();
  }
});
