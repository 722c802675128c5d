// Issue 21: know your customer through an Opencharge KYC provider (the docs' "KYC via OCN Provider").
// start: the provider's grant URL for the browser, with a single-use random `state` bound to the user (only its
// hash is stored). callback: the provider sends the browser back with `state`; the callback's own `status` is a
// hint only — what counts is the provider's signed /kyc/validate answer and, for granted grants, its signed
// /kyc/data whose data signature we verify (any dialect we accept). Only what that signature covers is verified:
// the docs sign `data` in the replacer form, which keeps top-level keys and drops every nested field, so with that
// form a grant counts when its top-level key and a non-empty value are in the signed bytes, and nothing nested is
// trusted. We store no personal data at all: per grant its status, whether the signature covered it, the expiry
// and the hash of the signed bytes. The user's tier follows from the unexpired verified grants (user-limits.ts).
import { t, type Static } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { randomHex } from "../protocol/hex";
import { sha256Hex } from "../protocol/hash";
import { canonDeep, canonReplacer } from "../protocol/canonical";
import { verifyObjectDialect } from "../protocol/signed-objects";
import { isUnderEndpoint } from "../peers/ssrf";
import { grantsAsked } from "../domain/tiers";
import { formatMinor } from "../protocol/money";
import type { User } from "../store/users";
import type { Tx } from "../store";
import { limitsInForce, userTier } from "./user-limits";

export const KycStartRequest = t.Object(
  {
    provider: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: "one of the configured KYC providers; the first when absent",
      }),
    ),
    userOcid: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: "the OCID the user holds at the provider; the user's own OCID when absent",
      }),
    ),
  },
  { additionalProperties: false },
);
export type KycStartRequest = Static<typeof KycStartRequest>;

/** What a provider may answer per grant in /kyc/validate; anything else reads as not granted. */
export const GRANT_STATUSES = ["granted", "denied", "pending", "revoked", "expired"] as const;
export type Outcome = "granted" | "partial" | "denied" | "unverified" | "expired";

export const kycCallbackUrl = (gw: Pick<Gateway, "config">) => `${gw.config.endpoint}/kyc/callback`;

function providerOf(gw: Pick<Gateway, "config">, asked: number | undefined): number {
  const providers = gw.config.kyc.providers;
  if (providers.length === 0)
    throw new ProtocolError("INVALID_STATE", "This gateway has no KYC provider configured", {
      reason: "kyc_not_configured",
    });
  if (asked === undefined) return providers[0]!;
  if (!providers.includes(asked))
    throw new ProtocolError("INVALID_REQUEST", `provider must be one of ${providers.join(", ")}`, {
      fields: ["provider"],
    });
  return asked;
}

async function providerEndpoint(
  gw: Pick<Gateway, "directory">,
  provider: number,
): Promise<{ endpoint: string; publicKey: Uint8Array }> {
  try {
    return await gw.directory.resolve(provider);
  } catch {
    throw new ProtocolError(
      "METADATA_UNAVAILABLE",
      `KYC provider ${provider} cannot be resolved right now: try again later`,
      { reason: "kyc_provider_unresolved", provider },
    );
  }
}

export async function startKyc(
  gw: Pick<Gateway, "clock" | "config" | "directory" | "store" | "tiers">,
  user: User,
  body: KycStartRequest,
) {
  const provider = providerOf(gw, body.provider);
  const grants = grantsAsked(gw.tiers);
  if (grants.length === 0)
    throw new ProtocolError("INVALID_STATE", "No tier asks for a verification here", { reason: "kyc_no_grants" });
  const userOcid = body.userOcid ?? user.ocid ?? null;
  if (userOcid === null)
    throw new ProtocolError("INVALID_REQUEST", "Give userOcid: the OCID you hold at the KYC provider", {
      fields: ["userOcid"],
    });
  const meta = await providerEndpoint(gw, provider);
  const state = randomHex(32);
  const now = gw.clock();
  const expiresAt = now + gw.config.kyc.stateTtl;
  const q = new URLSearchParams({
    grants: grants.join(","),
    user_ocid: String(userOcid),
    callback_url: kycCallbackUrl(gw),
    state,
  });
  const url = `${meta.endpoint}/kyc/grant/${gw.config.ocid}?${q}`;
  if (!isUnderEndpoint(url, meta.endpoint))
    throw new ProtocolError("METADATA_UNAVAILABLE", "The provider's endpoint is not usable", {
      reason: "kyc_provider_endpoint",
    });
  const started = { userId: user.id, provider, userOcid, grants, expiresAt };
  await gw.store.transaction((tx) => tx.kyc.addStart(sha256Hex(state), started, now));
  return { url, provider, grants, expiresAt };
}

type ValidateAnswer = Map<string, { status: string; expiresAt: number | null }>;

function providerAnswer(
  out: Awaited<ReturnType<Gateway["peers"]["call"]>>,
  what: string,
  provider: number,
): Record<string, unknown> {
  const fail = (reason: string) =>
    new ProtocolError(
      "METADATA_UNAVAILABLE",
      `KYC provider ${provider} did not give a usable ${what} answer: try again later`,
      { reason, provider },
    );
  if (out.kind !== "response") throw fail(`kyc_${what}_${out.reason}`);
  if (out.status !== 200) throw fail(`kyc_${what}_status_${out.status}`);
  // The answer decides a user's limits: it must be signed by the provider's key (§4.5), not merely sent over TLS.
  if (out.signatureValid !== true) throw fail(`kyc_${what}_unsigned`);
  if (!out.json || typeof out.json !== "object" || Array.isArray(out.json)) throw fail(`kyc_${what}_not_json`);
  return out.json as Record<string, unknown>;
}

const epoch = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : null);

/** `grants`: `{name: "granted"}` or `{name: {status, expires_at}}`; an array of `{grant, status, expires_at}` too. */
function readValidate(json: Record<string, unknown>, asked: readonly string[]): ValidateAnswer {
  const out: ValidateAnswer = new Map();
  const raw = json.grants;
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.filter((g) => g && typeof g === "object").map((g) => [String((g as Record<string, unknown>).grant ?? ""), g])
    : raw && typeof raw === "object"
      ? Object.entries(raw)
      : [];
  for (const [name, v] of entries) {
    if (!asked.includes(name)) continue;
    const o = (v && typeof v === "object" ? v : { status: v }) as Record<string, unknown>;
    const status = (GRANT_STATUSES as readonly unknown[]).includes(o.status) ? (o.status as string) : "denied";
    out.set(name, { status, expiresAt: epoch(o.expires_at) });
  }
  for (const g of asked) if (!out.has(g)) out.set(g, { status: "denied", expiresAt: null });
  return out;
}

type Coverage = { form: string; canonical: string; covered: (grant: string) => boolean };

const present = (v: unknown) => v !== undefined && v !== null && v !== false && v !== "";

/**
 * Which signed form the data signature is over, and what it covers. Tried in order: the whole envelope
 * {user_ocid, data, issued_at, expires_at} in the deep form (everything covered), `data` in the deep form, `data`
 * in the docs' replacer form (top-level keys only; nested values are `{}` in the signed bytes, so not trusted).
 */
function dataCoverage(env: Record<string, unknown>, pub: Uint8Array): Coverage | null {
  const data = env.data as Record<string, unknown>;
  const envelope = { user_ocid: env.user_ocid, data, issued_at: env.issued_at, expires_at: env.expires_at };
  if (verifyObjectDialect(envelope, env.signature, pub, false))
    return { form: "envelope-deep", canonical: canonDeep(envelope), covered: (g) => present(data[g]) };
  const d = verifyObjectDialect(data, env.signature, pub, true);
  if (!d) return null;
  if (d.form === "deep") return { form: "data-deep", canonical: canonDeep(data), covered: (g) => present(data[g]) };
  const canonical = canonReplacer(data);
  const signed = JSON.parse(canonical) as Record<string, unknown>;
  return { form: "data-replacer", canonical, covered: (g) => present(signed[g]) };
}

export type CallbackResult = { outcome: Outcome; userId: string; tier: string | null; grants: Record<string, string> };

export async function kycCallback(
  gw: Pick<Gateway, "clock" | "config" | "directory" | "log" | "peers" | "store" | "tiers">,
  query: Record<string, string | undefined>,
): Promise<CallbackResult> {
  const state = query.state ?? "";
  if (!/^[0-9a-f]{64}$/.test(state))
    throw new ProtocolError("KYC_STATE_INVALID", "This verification link is not ours; start again from the wallet", {
      reason: "unknown",
    });
  const hash = sha256Hex(state);
  const now = gw.clock();
  const usedAlready = () =>
    new ProtocolError("KYC_STATE_INVALID", "This verification link was already used; start again from the wallet", {
      reason: "used",
    });
  // Burn the state before calling out: a second arrival (replay, double click) never runs the checks twice.
  const start = await gw.store.transaction(async (tx) => {
    const start = await tx.kyc.start(hash);
    if (!start)
      throw new ProtocolError("KYC_STATE_INVALID", "This verification link is not ours; start again from the wallet", {
        reason: "unknown",
      });
    if (start.usedAt !== null) throw usedAlready();
    if (start.expiresAt <= now)
      throw new ProtocolError("KYC_STATE_INVALID", "This verification link has expired; start again from the wallet", {
        reason: "expired",
      });
    if (!(await tx.kyc.useStart(hash, now))) throw usedAlready();
    return start;
  });

  const { provider, userOcid, grants: asked } = start;
  const meta = await providerEndpoint(gw, provider);
  const timeoutMs = gw.config.outboundTimeouts.settlementMs;
  const validated = providerAnswer(
    await gw.peers.call(provider, "POST", "/kyc/validate", { user_ocid: userOcid, grants: asked }, { timeoutMs }),
    "validate",
    provider,
  );
  if (validated.user_ocid !== undefined && validated.user_ocid !== userOcid)
    throw new ProtocolError("METADATA_UNAVAILABLE", "The KYC provider answered for another user", {
      reason: "kyc_validate_user_mismatch",
      provider,
    });
  const statuses = readValidate(validated, asked);
  const granted = asked.filter((g) => statuses.get(g)!.status === "granted");

  let coverage: Coverage | null = null;
  let dataExpires: number | null = null;
  let expired = false;
  if (granted.length > 0) {
    const env = providerAnswer(
      await gw.peers.call(provider, "POST", "/kyc/data", { user_ocid: userOcid, grants: granted }, { timeoutMs }),
      "data",
      provider,
    );
    const okShape = env.user_ocid === userOcid && env.data && typeof env.data === "object" && !Array.isArray(env.data);
    dataExpires = epoch(env.expires_at);
    const issued = epoch(env.issued_at);
    expired = dataExpires === null || dataExpires <= now;
    const fromFuture = issued !== null && issued > now + gw.config.authWindow;
    if (okShape && !expired && !fromFuture) coverage = dataCoverage(env, meta.publicKey);
  }

  const rows = asked.map((g) => {
    const v = statuses.get(g)!;
    const isGranted = v.status === "granted";
    const verified = isGranted && coverage !== null && coverage.covered(g);
    const expiresAt = isGranted ? Math.min(v.expiresAt ?? Number.MAX_SAFE_INTEGER, dataExpires ?? 0) : v.expiresAt;
    return { grant: g, status: isGranted && expired ? "expired" : v.status, verified, expiresAt };
  });
  const tier = await gw.store.transaction(async (tx) => {
    for (const r of rows)
      await tx.kyc.putGrant(
        start.userId,
        {
          provider,
          grant: r.grant,
          status: r.status,
          verified: r.verified,
          expiresAt: r.expiresAt,
          dataHash: r.verified ? sha256Hex(coverage!.canonical) : null,
          signedForm: r.verified ? coverage!.form : null,
        },
        now,
      );
    return (await userTier(gw, tx, start.userId)).tier?.name ?? null;
  });
  const verifiedCount = rows.filter((r) => r.verified).length;
  const outcome: Outcome =
    granted.length === 0
      ? "denied"
      : expired
        ? "expired"
        : verifiedCount === 0
          ? "unverified"
          : verifiedCount === asked.length
            ? "granted"
            : "partial";
  gw.log.info("kyc callback", {
    userId: start.userId,
    provider,
    outcome,
    verified: verifiedCount,
    asked: asked.length,
  });
  return {
    outcome,
    userId: start.userId,
    tier,
    grants: Object.fromEntries(rows.map((r) => [r.grant, r.status])),
  };
}

/** What the wallet shows: the tier, its limits in every enabled currency, the grants and the providers. */
export function kycView(gw: Pick<Gateway, "clock" | "config" | "currencies" | "store" | "tiers">, userId: string) {
  return gw.store.read((tx) => kycViewIn(gw, tx, userId));
}

async function kycViewIn(gw: Pick<Gateway, "clock" | "config" | "currencies" | "tiers">, tx: Tx, userId: string) {
  const { tier, source } = await userTier(gw, tx, userId);
  const limits: Record<string, Record<string, string>> = {};
  for (const currency of gw.config.currencies.enabled) {
    const set = await limitsInForce(tx, userId, currency, tier);
    const shown = Object.fromEntries(
      Object.entries(set).map(([k, v]) => [k, formatMinor(v!, currency, gw.currencies)]),
    );
    if (Object.keys(shown).length) limits[currency] = shown;
  }
  const now = gw.clock();
  const idx = tier ? gw.tiers.indexOf(tier) : -1;
  return {
    tier: tier?.name ?? null,
    source,
    limits,
    tiers: gw.tiers.map((t) => ({ name: t.name, grants: [...t.grants] })),
    next: idx >= 0 && idx + 1 < gw.tiers.length ? gw.tiers[idx + 1]!.name : null,
    providers: [...gw.config.kyc.providers],
    canVerify: gw.config.kyc.providers.length > 0 && grantsAsked(gw.tiers).length > 0,
    grants: (await tx.kyc.grants(userId)).map((g) => ({
      grant: g.grant,
      provider: g.provider,
      status: g.verified && (g.expiresAt ?? 0) <= now ? "expired" : g.status,
      verified: g.verified && (g.expiresAt ?? 0) > now,
      expiresAt: g.expiresAt,
    })),
  };
}
