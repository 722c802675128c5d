// Issue 22 passkeys in real headless Chromium with a virtual authenticator per browser context (CDP WebAuthn domain
// through playwright-core): register after a token sign-in, sign in with it, enrol a second device from the
// operator's one-time link and sign in there with its own passkey, remove a passkey (its sessions end), and the
// refusals: a replayed assertion or registration, a wrong origin (a look-alike site proxying to us), a counter
// that went backwards. WebAuthn needs a domain as relying party, so the gateway is served as http://localhost:PORT.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { addVirtualAuthenticator, freeLoopbackPort, type VirtualAuthenticator } from "./authenticator";
import { startTestGateway, type TestGateway, NO_RATE_LIMITS } from "../helpers/gateway";
import { addUser, app } from "../helpers/wallet";
import { issueEnrolLink } from "../../src/flows/sign-in";
import { sha256Hex } from "../../src/protocol/hash";
import { conformsToDoc, SIGN_IN_ROUTES } from "../helpers/documented";
import { auditA11y, closePages, launchChromium, outputPath, phonePage, until, type PhonePage } from "./browser";

let tg: TestGateway;
let base: string;
let browser: Browser;
const pages: PhonePage[] = [];
const answers: { route: string; body: unknown }[] = [];
const seenRoutes = new Set<string>();

beforeAll(async () => {
  const port = freeLoopbackPort();
  base = `http://localhost:${port}`;
  tg = await startTestGateway({ port, publicUrl: base, rateLimits: NO_RATE_LIMITS });
  expect(tg.gw.config.webBaseUrl).toBe(base);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await tg?.close();
});
afterEach(async () => {
  expect(await closePages(pages)).toEqual([]);
  for (const a of answers.splice(0)) conformsToDoc(tg.gw, a.route, a.body);
});

type Device = PhonePage & VirtualAuthenticator;

/** A phone-sized page with its own platform authenticator (user verification by "fingerprint", always granted). */
async function device(): Promise<Device> {
  const p = await phonePage(browser);
  pages.push(p);
  // Every passkey answer the page gets is checked against the schema its route documents.
  p.page.on("response", async (r) => {
    const path = new URL(r.url()).pathname;
    const route = `${r.request().method()} ${path.replace(/^\/app\/passkeys\/(?!register|signin)[^/]+$/, "/app/passkeys/:id")}`;
    if (r.status() !== 200 || !SIGN_IN_ROUTES.includes(route)) return;
    seenRoutes.add(route);
    // A page closed before its answer was read leaves nothing to check (the test has already passed or failed).
    const body = await r.json().catch(() => undefined);
    if (body !== undefined) answers.push({ route, body });
  });
  const auth = await addVirtualAuthenticator(p.context, p.page);
  return { ...p, ...auth };
}

const storedToken = (page: Page) => page.evaluate(() => sessionStorage.getItem("oc.token"));
const tokenRow = (token: string) =>
  tg.gw.db.query<{ kind: string; passkey_id: string | null; origin: string | null; revoked_at: number | null }, [string]>(
    "SELECT kind, passkey_id, origin, revoked_at FROM app_tokens WHERE token_hash = ?",
  ).get(sha256Hex(token));

async function tokenSignIn(page: Page, token: string, name: string) {
  await page.goto(base + "/");
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
}

async function addPasskey(page: Page, name: string) {
  await page.getByLabel("Name for a new passkey").fill(name);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.locator("#passkeys li", { hasText: name }).waitFor();
}

async function passkeySignIn(page: Page, name: string) {
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await page.getByRole("heading", { level: 1, name: `Hello, ${name}` }).waitFor();
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
}

test("register after a token sign-in, sign in with it; a second device enrols from a one-time link with its own passkey; removing one ends its sessions", async () => {
  const { user, token: operator } = addUser(tg, "pia", "USD:20.00");
  const phone = await device();
  await tokenSignIn(phone.page, operator, "pia");
  await phone.page.locator("#passkeys-empty").waitFor({ state: "visible" }); // loaded after the history
  await addPasskey(phone.page, "Pia's phone");
  const [cred1] = await phone.credentials();
  expect(cred1).toMatchObject({ rpId: "localhost" });
  const row1 = tg.gw.store.passkeys.forUser(user.id);
  expect(row1.map((p) => [p.name, p.userId, p.lastUsedAt])).toEqual([["Pia's phone", user.id, null]]);
  expect(Buffer.from(row1[0]!.id, "base64url").equals(Buffer.from(cred1!.credentialId, "base64"))).toBe(true);
  expect(await auditA11y(phone.page)).toEqual([]);
  await phone.page.screenshot({ path: outputPath("passkeys-wallet.png"), fullPage: true });

  // Sign out (the session is revoked), then back in with the passkey alone.
  await signOut(phone.page);
  expect(await auditA11y(phone.page)).toEqual([]);
  await phone.page.screenshot({ path: outputPath("passkeys-signin.png"), fullPage: true });
  await passkeySignIn(phone.page, "pia");
  const s1 = (await storedToken(phone.page))!;
  expect(tokenRow(s1)).toEqual({ kind: "session", passkey_id: row1[0]!.id, origin: base, revoked_at: null });
  const afterFirst = tg.gw.store.passkeys.byId(row1[0]!.id)!;
  expect(afterFirst.lastUsedAt).not.toBeNull();
  expect(afterFirst.counter).toBe((await phone.credentials())[0]!.signCount); // the authenticator's counter is kept
  await phone.page.locator("#passkeys li", { hasText: "signed in with it" }).waitFor();

  // A second device: the operator's one-time enrolment link (no token typed anywhere).
  const laptop = await device();
  const link = await issueEnrolLink(tg.gw, "test", user);
  await laptop.page.goto(link.url);
  await laptop.page.getByRole("heading", { level: 1, name: "Set up a passkey" }).waitFor();
  await until(async () => (await laptop.page.locator("#enrol-who").textContent()) === "For pia", "enrolment names the user");
  expect(laptop.page.url()).toBe(base + "/"); // the token left the address bar
  expect(await auditA11y(laptop.page)).toEqual([]);
  await laptop.page.screenshot({ path: outputPath("passkeys-enrol.png"), fullPage: true });
  await laptop.page.getByLabel("Name for this passkey").fill("Pia's laptop");
  await laptop.page.getByRole("button", { name: "Create passkey" }).click();
  await laptop.page.getByRole("heading", { level: 1, name: "Hello, pia" }).waitFor();
  const enrolToken = link.url.split("#enrol=")[1]!;
  expect(tokenRow(enrolToken)!.revoked_at).not.toBeNull(); // rotated: the link is spent
  expect((await app(tg, enrolToken, "GET", "/app/passkeys")).status).toBe(401);
  const s2 = (await storedToken(laptop.page))!;
  expect(tokenRow(s2)).toMatchObject({ kind: "session", revoked_at: null });
  await until(async () => (await laptop.page.locator("#passkeys li").count()) === 2, "two passkeys listed");

  // The laptop signs out and back in with its own passkey (its authenticator holds only that one).
  await signOut(laptop.page);
  await passkeySignIn(laptop.page, "pia");
  const [cred2] = await laptop.credentials();
  const s3 = (await storedToken(laptop.page))!;
  expect(tokenRow(s3)!.passkey_id).toBe(Buffer.from(cred2!.credentialId, "base64").toString("base64url"));
  expect(tokenRow(s3)!.passkey_id).not.toBe(row1[0]!.id);

  // From the laptop, remove the phone's passkey: the phone's session signed in with it ends at once.
  await laptop.page.getByRole("button", { name: "Remove passkey Pia's phone" }).click();
  await until(async () => (await laptop.page.locator("#passkeys li").count()) === 1, "one passkey left");
  expect(tg.gw.store.passkeys.forUser(user.id).map((p) => p.name)).toEqual(["Pia's laptop"]);
  expect((await app(tg, s1, "GET", "/app/me")).status).toBe(401);
  expect((await app(tg, s3, "GET", "/app/me")).status).toBe(200);
  // The phone is signed out live (its socket is closed on revocation), without a reload.
  await phone.page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: 5_000 });
  await phone.page.locator("#signin-error", { hasText: "Your sign-in is no longer valid" }).waitFor();
  // It still holds the credential, but that passkey is no longer registered here.
  await phone.page.getByRole("button", { name: "Use a passkey" }).click();
  await phone.page.locator("#passkey-signin-error", { hasText: "This passkey is not registered here (it may have been removed)" }).waitFor();
  // (a request already in flight when the session ended may log its 401; the refused sign-in logs its 400)
  expect(phone.problems.splice(0).filter((p) => !p.includes("status of 401"))).toEqual([
    "console: Failed to load resource: the server responded with a status of 400 (Bad Request)",
  ]);
});

test("a replayed assertion or registration is refused; a look-alike origin is refused; a counter that went backwards is refused", async () => {
  const { user, token: operator } = addUser(tg, "quin");
  const d = await device();
  const posted: Record<string, string> = {};
  d.page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.method() === "POST" && path.startsWith("/app/passkeys/")) posted[path] = r.postData() ?? "";
  });
  await tokenSignIn(d.page, operator, "quin");
  const session = (await storedToken(d.page))!;
  await addPasskey(d.page, "Quin's phone");
  await signOut(d.page);
  await passkeySignIn(d.page, "quin");

  // Byte-for-byte replays of what the browser sent: each challenge was spent by its first use.
  const replay = async (path: string, token?: string) => {
    const res = await fetch(base + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: posted[path],
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const before = tg.gw.db.query("SELECT COUNT(*) AS n FROM app_tokens").get();
  expect(await replay("/app/passkeys/signin")).toMatchObject({ status: 400, json: { error: { code: "PASSKEY_REJECTED", details: { reason: "challenge" } } } });
  expect(tg.gw.db.query("SELECT COUNT(*) AS n FROM app_tokens").get()).toEqual(before); // no session issued
  const reg = await replay("/app/passkeys/register", (await storedToken(d.page))!);
  expect(reg).toMatchObject({ status: 400, json: { error: { code: "PASSKEY_REJECTED", details: { reason: "challenge" } } } });
  expect((await app(tg, session, "GET", "/app/me")).status).toBe(401); // the token sign-in's session was signed out

  // A look-alike site (another origin, same host name so the browser offers the passkey) relaying to us.
  const phishing = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`${tg.url}${u.pathname}${u.search}`, { method: req.method, headers, body, redirect: "manual" });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  });
  try {
    await signOut(d.page);
    const sessionsBefore = tg.gw.db.query("SELECT COUNT(*) AS n FROM app_tokens WHERE kind = 'session'").get();
    await d.page.goto(`http://localhost:${phishing.port}/`);
    await d.page.getByRole("button", { name: "Use a passkey" }).click();
    await d.page.locator("#passkey-signin-error", { hasText: "This passkey answer was made for another site." }).waitFor();
    expect(tg.gw.db.query("SELECT COUNT(*) AS n FROM app_tokens WHERE kind = 'session'").get()).toEqual(sessionsBefore);
  } finally {
    phishing.stop(true);
  }

  // A stored counter ahead of the authenticator's (a cloned authenticator was used meanwhile) is refused.
  const pk = tg.gw.store.passkeys.forUser(user.id)[0]!;
  tg.gw.db.query("UPDATE passkeys SET counter = counter + 100 WHERE id = ?").run(pk.id);
  await d.page.goto(base + "/");
  await d.page.getByRole("button", { name: "Use a passkey" }).click();
  await d.page.locator("#passkey-signin-error", { hasText: "This passkey answer was already used (or the passkey was cloned)." }).waitFor();
  expect(d.problems.splice(0)).toEqual(Array(2).fill("console: Failed to load resource: the server responded with a status of 400 (Bad Request)"));
});


// Last: the answers above were validated in afterEach.
test("every passkey route's answer was seen and conforms to its documented schema", () => {
  expect(seenRoutes.size).toBeGreaterThan(0);
  expect(SIGN_IN_ROUTES.filter((r) => r.includes("passkeys") && !seenRoutes.has(r))).toEqual([]);
});
