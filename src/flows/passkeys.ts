// Issue 22 passkeys with @simplewebauthn/server: a signed-in user (any token kind, an enrolment link included)
// registers passkeys; anyone may start a passkey sign-in, which on success issues a session bound to our origin.
// The relying party is the web origin (`webBaseUrl`): its host is the RP ID, its origin the only one accepted.
// As the library recommends: user verification required, the signature counter must grow (when the authenticator
// keeps one) and is stored, challenges are ours, server-side, single use and short-lived.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { Auth } from "../app/bearer";
import type { ChallengePurpose, ChallengeRow, PasskeyRow } from "../store/passkeys";
import { issueSession, promoteEnrolment, webOrigin, type SessionGrant } from "./sign-in";

/** How long a browser has between asking for a challenge and answering it. */
export const CHALLENGE_TTL = 300;
const MS_PER_SECOND = 1000;
/** Unauthenticated sign-in challenges alive at once; past it a flood is refused instead of filling the table. */
export const MAX_SIGNIN_CHALLENGES = 10_000;
const NAME_RE = /^[^\p{Cc}\p{Cf}]{1,40}$/u;

export const relyingParty = (gw: Pick<Gateway, "config">) => ({
  id: new URL(gw.config.webBaseUrl).hostname,
  name: gw.config.name,
  origin: webOrigin(gw),
});

/** The library's reasons, sorted into what a client can act on (the message says the rest). */
const REASONS: [RegExp, string][] = [
  [/challenge/i, "challenge"],
  [/origin/i, "origin"],
  [/RP ID/i, "rp_id"],
  [/counter/i, "counter"],
  [/user verification|user not present/i, "user_verification"],
];
function rejected(e: unknown): ProtocolError {
  const message = e instanceof Error ? e.message : String(e);
  const reason = REASONS.find(([re]) => re.test(message))?.[1] ?? "invalid_response";
  const hint: Record<string, string> = {
    challenge: "This passkey prompt was already used or has expired: start again.",
    origin: "This passkey answer was made for another site.",
    rp_id: "This passkey belongs to another site.",
    counter: "This passkey answer was already used (or the passkey was cloned).",
    user_verification: "The passkey must verify you (fingerprint, face or PIN).",
    invalid_response: "The passkey answer could not be verified.",
  };
  return new ProtocolError("PASSKEY_REJECTED", hint[reason], { reason });
}

const challengeTaker =
  (
    gw: Pick<Gateway, "clock" | "store">,
    purpose: ChallengePurpose,
    check: (row: Pick<ChallengeRow, "userId" | "tokenHash">) => boolean,
  ) =>
  async (challenge: string) => {
    const row = await gw.store.transaction((tx) => tx.passkeys.takeChallenge(challenge, purpose, gw.clock()));
    return row !== null && check(row);
  };

export function passkeyView(p: PasskeyRow, current: string | null) {
  return {
    id: p.id,
    name: p.name,
    createdAt: p.createdAt,
    lastUsedAt: p.lastUsedAt,
    backedUp: p.backedUp === 1,
    current: p.id === current,
  };
}

export async function listPasskeys(gw: Pick<Gateway, "store">, auth: Auth) {
  const rows = await gw.store.read((tx) => tx.passkeys.forUser(auth.user.id));
  return {
    user: { id: auth.user.id, name: auth.user.name },
    tokenKind: auth.grant.kind,
    passkeys: rows.map((p) => passkeyView(p, auth.grant.passkeyId)),
  };
}

export async function registrationOptions(gw: Pick<Gateway, "clock" | "config" | "store">, auth: Auth) {
  const rp = relyingParty(gw);
  const existing = await gw.store.read((tx) => tx.passkeys.forUser(auth.user.id));
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: auth.user.name,
    userDisplayName: auth.user.name,
    userID: new TextEncoder().encode(auth.user.id),
    attestationType: "none",
    // One passkey per authenticator: the browser skips (or refuses) one that already holds a credential of ours.
    excludeCredentials: existing.map((p) => ({
      id: p.id,
      transports: JSON.parse(p.transports) as AuthenticatorTransport[],
    })),
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    timeout: CHALLENGE_TTL * MS_PER_SECOND,
  });
  const now = gw.clock();
  const challenge = {
    challenge: options.challenge,
    purpose: "register" as const,
    userId: auth.user.id,
    tokenHash: auth.grant.hash,
  };
  await gw.store.transaction((tx) => tx.passkeys.saveChallenge(challenge, now, CHALLENGE_TTL));
  return options;
}

export async function registerPasskey(
  gw: Pick<Gateway, "clock" | "config" | "store">,
  auth: Auth,
  name: string,
  response: RegistrationResponseJSON,
) {
  const label = name.trim();
  if (!NAME_RE.test(label))
    throw new ProtocolError("INVALID_REQUEST", "name: 1–40 characters", { fields: ["name"], reason: "name" });
  const rp = relyingParty(gw);
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      // The challenge must be one we issued to this very token, unused and unexpired; taking it spends it.
      expectedChallenge: challengeTaker(
        gw,
        "register",
        (r) => r.userId === auth.user.id && r.tokenHash === auth.grant.hash,
      ),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
  } catch (e) {
    throw rejected(e);
  }
  if (!verified.verified) throw rejected(new Error("not verified"));
  const info = verified.registrationInfo;
  const now = gw.clock();
  return gw.store.transaction(async (tx) => {
    // The token may have been revoked while the browser was busy with the authenticator.
    if (!(await tx.tokens.isLive(auth.grant.hash, now)))
      throw new ProtocolError("INVALID_TOKEN", "Signed out meanwhile: sign in again");
    if (await tx.passkeys.byId(info.credential.id))
      throw new ProtocolError("INVALID_STATE", "This passkey is already registered", { reason: "duplicate" });
    await tx.passkeys.insert({
      id: info.credential.id,
      userId: auth.user.id,
      name: label,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
      transports: JSON.stringify(info.credential.transports ?? response.response.transports ?? []),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp ? 1 : 0,
      createdAt: now,
    });
    const passkey = passkeyView((await tx.passkeys.byId(info.credential.id))!, null);
    const session: SessionGrant | undefined =
      auth.grant.kind === "enrol" ? await promoteEnrolment(gw, tx, auth, passkey.id) : undefined;
    return session ? { passkey, session } : { passkey };
  });
}

/** Removing a passkey ends the sessions it signed in (a lost phone), except the one asking. */
export async function removePasskey(gw: Pick<Gateway, "clock" | "store">, auth: Auth, id: string) {
  const now = gw.clock();
  const revoked = await gw.store.transaction(async (tx) => {
    if (!(await tx.passkeys.remove(id, auth.user.id)))
      throw new ProtocolError("NOT_FOUND", "No such passkey", { reason: "passkey" });
    return tx.tokens.revokeByPasskey(id, now, auth.grant.hash);
  });
  return { removed: true, sessionsEnded: revoked };
}

export async function signInOptions(gw: Pick<Gateway, "clock" | "config" | "store">) {
  if ((await gw.store.read((tx) => tx.passkeys.liveChallenges("signin"))) >= MAX_SIGNIN_CHALLENGES)
    throw new ProtocolError("RATE_LIMITED", "Too many sign-ins in progress");
  const rp = relyingParty(gw);
  // No allowCredentials: the browser offers the user's discoverable passkeys for this site (no user name typed).
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    userVerification: "required",
    timeout: CHALLENGE_TTL * MS_PER_SECOND,
  });
  const now = gw.clock();
  const challenge = { challenge: options.challenge, purpose: "signin" as const, userId: null, tokenHash: null };
  await gw.store.transaction((tx) => tx.passkeys.saveChallenge(challenge, now, CHALLENGE_TTL));
  return options;
}

export async function signInWithPasskey(
  gw: Pick<Gateway, "clock" | "config" | "store">,
  response: AuthenticationResponseJSON,
): Promise<SessionGrant> {
  const passkey = await gw.store.read((tx) => tx.passkeys.byId(response.id));
  if (!passkey)
    throw new ProtocolError("PASSKEY_REJECTED", "This passkey is not registered here (it may have been removed)", {
      reason: "unknown_credential",
    });
  const rp = relyingParty(gw);
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challengeTaker(gw, "signin", () => true),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: passkey.id,
        publicKey: new Uint8Array(passkey.publicKey),
        counter: passkey.counter,
        transports: JSON.parse(passkey.transports),
      },
      requireUserVerification: true,
    });
  } catch (e) {
    throw rejected(e);
  }
  if (!verified.verified) throw rejected(new Error("not verified"));
  // A discoverable credential names its user: it must be the passkey's owner.
  const handle = response.response.userHandle;
  if (handle && Buffer.from(handle, "base64url").toString("utf8") !== passkey.userId)
    throw rejected(new Error("user handle mismatch"));
  const now = gw.clock();
  const { newCounter } = verified.authenticationInfo;
  return gw.store.transaction(async (tx) => {
    if (!(await tx.passkeys.markUsed(passkey.id, passkey.counter, newCounter, now)))
      throw new ProtocolError("PASSKEY_REJECTED", "This passkey answer was already used", { reason: "counter" });
    const user = (await tx.users.byId(passkey.userId))!;
    return issueSession(gw, tx, user, { origin: rp.origin, passkeyId: passkey.id });
  });
}
