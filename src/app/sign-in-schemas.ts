// Issue 22: what the sign-in routes answer (sessions, passkeys, the hosted checkout's approve-on-phone view), as
// TypeBox schemas: the API reference shows them, tests validate real answers against them, web/api.ts derives its
// client types from them.
import { Type as T, type Static } from "@sinclair/typebox";

const UnixSeconds = T.Integer({ minimum: 0, description: "Unix time, seconds" });
const UserRef = T.Object({ id: T.String(), name: T.String() });

export const SessionGrant = T.Object({
  token: T.String({ pattern: "^[0-9a-f]{64}$", description: "Short-lived bearer token (shown once)" }),
  expiresAt: UnixSeconds,
  idleTimeout: T.Integer({ minimum: 1, description: "Seconds without a request after which the session ends" }),
  user: UserRef,
});
export type SessionGrant = Static<typeof SessionGrant>;

export const SignedOut = T.Object({ signedOut: T.Literal(true) });

export const PasskeyView = T.Object({
  id: T.String({ description: "WebAuthn credential id, base64url" }),
  name: T.String(),
  createdAt: UnixSeconds,
  lastUsedAt: T.Union([UnixSeconds, T.Null()]),
  backedUp: T.Boolean({ description: "A synced (multi-device) passkey that is backed up" }),
  current: T.Boolean({ description: "The passkey this session was signed in with" }),
});
export type PasskeyView = Static<typeof PasskeyView>;

export const PasskeyList = T.Object({
  user: UserRef,
  tokenKind: T.Union([T.Literal("operator"), T.Literal("session"), T.Literal("enrol")]),
  passkeys: T.Array(PasskeyView),
});
export type PasskeyList = Static<typeof PasskeyList>;

export const PasskeyRegistered = T.Object({
  passkey: PasskeyView,
  /** Only when an enrolment link registered it: the session that replaces the (now spent) link. */
  session: T.Optional(SessionGrant),
});
export type PasskeyRegistered = Static<typeof PasskeyRegistered>;

export const PasskeyRemoved = T.Object({ removed: T.Literal(true), sessionsEnded: T.Integer({ minimum: 0 }) });

/** WebAuthn options as JSON (for @simplewebauthn/browser); only the members we rely on are spelled out. */
export const CreationOptions = T.Object(
  {
    challenge: T.String(),
    rp: T.Object({ id: T.Optional(T.String()), name: T.String() }),
    user: T.Object({ id: T.String(), name: T.String(), displayName: T.String() }),
    pubKeyCredParams: T.Array(T.Object({ alg: T.Integer(), type: T.Literal("public-key") })),
  },
  { additionalProperties: true, description: "PublicKeyCredentialCreationOptionsJSON" },
);
export const RequestOptions = T.Object(
  { challenge: T.String(), rpId: T.Optional(T.String()), userVerification: T.Optional(T.String()) },
  { additionalProperties: true, description: "PublicKeyCredentialRequestOptionsJSON" },
);

export const CheckoutOutcome = T.Object({
  sessionId: T.String({ pattern: "^[0-9a-f]{32}$" }),
  status: T.String({ description: "§11.1 order status" }),
  final: T.Boolean({ description: "Answered (or expired): the page should leave for `redirect`" }),
  redirect: T.Optional(T.String({ description: "The merchant's success or cancel URL, once final" })),
});
export type CheckoutOutcome = Static<typeof CheckoutOutcome>;
