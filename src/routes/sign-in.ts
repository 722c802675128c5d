// Issue 22 sign-in routes under /app: sessions (exchange, sign-out) and passkeys (register, list, remove, sign in).
// Thin: the rules live in flows/sign-in and flows/passkeys.
import { Elysia, t } from "elysia";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { authFromAuthorization } from "../app/bearer";
import { clientIp, enforceRate } from "./protocol-route";
import { exchangeForSession, signOut } from "../flows/sign-in";
import { routeDoc } from "../http/route-docs";
import * as S from "../app/sign-in-schemas";
import {
  listPasskeys,
  registerPasskey,
  registrationOptions,
  removePasskey,
  signInOptions,
  signInWithPasskey,
} from "../flows/passkeys";

const EmptyBody = t.Optional(t.Object({}, { additionalProperties: true }));
const b64u = t.String({ maxLength: 16384, pattern: "^[A-Za-z0-9_-]*={0,2}$" });
/** A WebAuthn PublicKeyCredential as JSON (what @simplewebauthn/browser returns); the library checks the rest. */
const Credential = (response: Record<string, ReturnType<typeof t.Optional> | typeof b64u>) =>
  t.Object(
    {
      id: t.String({ minLength: 1, maxLength: 1400, pattern: "^[A-Za-z0-9_-]+$" }),
      rawId: b64u,
      type: t.Literal("public-key"),
      response: t.Object(response, { additionalProperties: true }),
      clientExtensionResults: t.Object({}, { additionalProperties: true }),
      authenticatorAttachment: t.Optional(t.String({ maxLength: 32 })),
    },
    { additionalProperties: false },
  );
const Registration = Credential({ clientDataJSON: b64u, attestationObject: b64u });
const Assertion = Credential({
  clientDataJSON: b64u,
  authenticatorData: b64u,
  signature: b64u,
  userHandle: t.Optional(b64u),
});

export function signInRoutes(gw: Pick<Gateway, "clock" | "config" | "limiter" | "store" | "trustedProxies">) {
  return (
    new Elysia({ name: "oc-sign-in", prefix: "/app" })
      // Before sign-in: anyone may ask for a challenge and answer it (rate-limited per IP).
      .post(
        "/passkeys/signin/options",
        (ctx) => {
          enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
          return signInOptions(gw);
        },
        {
          body: EmptyBody,
          detail: routeDoc({
            summary: "Start a passkey sign-in: WebAuthn request options with a single-use challenge",
            response: S.RequestOptions,
            errors: ["RATE_LIMITED"],
          }),
        },
      )
      .post(
        "/passkeys/signin",
        (ctx) => {
          enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
          return signInWithPasskey(gw, ctx.body.response as unknown as AuthenticationResponseJSON);
        },
        {
          body: t.Object({ response: Assertion }),
          detail: routeDoc({
            summary: "Finish a passkey sign-in: a short-lived session token",
            response: S.SessionGrant,
            errors: ["PASSKEY_REJECTED", "RATE_LIMITED"],
          }),
        },
      )
      .resolve(async ({ request }) => {
        const auth = await authFromAuthorization(
          gw,
          request.headers.get("authorization"),
          request.headers.get("origin"),
        );
        enforceRate(gw, `token:${auth.user.id}`, gw.config.rateLimits.perToken);
        return { auth };
      })
      // An enrolment link may do exactly these: see who it is for, and register the first passkey.
      .get("/passkeys", ({ auth }) => listPasskeys(gw, auth), {
        detail: routeDoc({ summary: "The signed-in user's passkeys", response: S.PasskeyList }),
      })
      .post("/passkeys/register/options", ({ auth }) => registrationOptions(gw, auth), {
        body: EmptyBody,
        detail: routeDoc({
          summary: "Start registering a passkey: WebAuthn creation options with a single-use challenge",
          response: S.CreationOptions,
        }),
      })
      .post(
        "/passkeys/register",
        ({ auth, body }) => registerPasskey(gw, auth, body.name, body.response as unknown as RegistrationResponseJSON),
        {
          body: t.Object({ name: t.String({ maxLength: 200 }), response: Registration }),
          detail: routeDoc({
            summary: "Finish registering a passkey (an enrolment link is rotated into a session)",
            response: S.PasskeyRegistered,
            errors: ["PASSKEY_REJECTED", "INVALID_STATE"],
          }),
        },
      )
      .post("/signout", ({ auth }) => signOut(gw, auth), {
        body: EmptyBody,
        detail: routeDoc({ summary: "Sign out: revoke the token presented", response: S.SignedOut }),
      })
      .onBeforeHandle(({ auth }) => {
        if (auth.grant.kind === "enrol")
          throw new ProtocolError("UNAUTHORIZED", "An enrolment link can only register a passkey", {
            reason: "enrol_only",
          });
      })
      .post(
        "/session",
        ({ auth, request }) => exchangeForSession(gw, auth, request.headers.get("origin"), request.headers.get("host")),
        {
          body: EmptyBody,
          detail: routeDoc({
            summary: "Exchange an operator token for a short-lived sign-in session",
            response: S.SessionGrant,
            errors: ["UNAUTHORIZED"],
          }),
        },
      )
      .delete("/passkeys/:id", ({ auth, params }) => removePasskey(gw, auth, params.id), {
        params: t.Object({ id: t.String({ maxLength: 1400 }) }),
        detail: routeDoc({
          summary: "Remove a passkey; sessions it signed in end",
          response: S.PasskeyRemoved,
          errors: ["NOT_FOUND"],
        }),
      })
  );
}
