// Issue 22 sign-in sessions: a short-lived token for a person at a browser, instead of the operator's long-lived
// token. Issued by a passkey sign-in, by exchanging an operator token (the web page's "paste token" sign-in), or
// by promoting an enrolment link once it registered the user's first passkey; signing out revokes it.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { Auth } from "../app/bearer";
import type { User } from "../store/users";
import type { Tx } from "../store";

export type SessionGrant = {
  token: string;
  expiresAt: number;
  idleTimeout: number;
  user: { id: string; name: string };
};

/** The one origin a browser session may come from: where our pages are served (and the passkey RP lives). */
export const webOrigin = (gw: Pick<Gateway, "config">) => new URL(gw.config.webBaseUrl).origin;

/** In the caller's transaction `tx`. */
export async function issueSession(
  gw: Pick<Gateway, "clock" | "config">,
  tx: Tx,
  user: { id: string; name: string },
  o: { origin: string | null; passkeyId?: string },
): Promise<SessionGrant> {
  const { ttl, idleTimeout } = gw.config.sessions;
  const t = await tx.tokens.issue(user.id, gw.clock(), {
    kind: "session",
    ttl,
    idleTimeout,
    origin: o.origin,
    passkeyId: o.passkeyId,
  });
  return { token: t.token, expiresAt: t.expiresAt!, idleTimeout, user: { id: user.id, name: user.name } };
}

/**
 * Operator token → session. Only operator tokens: a session that could renew itself would have no absolute expiry.
 * A browser request is bound to its origin, which must be ours: `webBaseUrl`, an allowed CORS origin, or the very
 * host the request was sent to (our page, reached at another address, e.g. through a proxy that keeps Host).
 */
export async function exchangeForSession(
  gw: Pick<Gateway, "clock" | "config" | "store">,
  auth: Auth,
  origin: string | null,
  host: string | null,
): Promise<SessionGrant> {
  if (auth.grant.kind !== "operator")
    throw new ProtocolError("UNAUTHORIZED", "Only an operator-issued token can start a session", {
      reason: "token_kind",
    });
  const sameHost = !!origin && URL.canParse(origin) && new URL(origin).host === host;
  if (origin && !sameHost && origin !== webOrigin(gw) && !gw.config.app.corsOrigins.includes(origin))
    throw new ProtocolError("UNAUTHORIZED", "Sessions are issued to this wallet's own pages", { reason: "origin" });
  return gw.store.transaction((tx) => issueSession(gw, tx, auth.user, { origin: origin ?? null }));
}

/** Revokes the token presented (whatever its kind: a client signing out with the operator token loses it). */
export async function signOut(gw: Pick<Gateway, "clock" | "store">, auth: Auth): Promise<{ signedOut: true }> {
  await gw.store.transaction((tx) => tx.tokens.revoke(auth.grant.hash, gw.clock()));
  return { signedOut: true };
}

/**
 * A privilege change rotates the token: an enrolment link that registered the first passkey is spent (revoked)
 * and replaced by a full session, so whoever saw the link cannot use it again. In the caller's transaction `tx`.
 */
export async function promoteEnrolment(
  gw: Pick<Gateway, "clock" | "config">,
  tx: Tx,
  auth: Auth,
  passkeyId: string,
): Promise<SessionGrant> {
  await tx.tokens.revoke(auth.grant.hash, gw.clock());
  return issueSession(gw, tx, auth.user, { origin: webOrigin(gw), passkeyId });
}

/**
 * `users enrol-link <name>` / `POST /admin/users/{id}/enrol-link`: a one-time link the operator hands a user whose
 * first passkey needs a sign-in. Audited (the link itself is a secret and stays out of the log).
 */
export async function issueEnrolLink(
  gw: Pick<Gateway, "clock" | "config" | "store">,
  actor: string,
  user: User,
): Promise<{ user: { id: string; name: string }; url: string; expiresAt: number }> {
  const now = gw.clock();
  const t = await gw.store.transaction(async (tx) => {
    await tx.audit.append(actor, "users.enrol_link", { userId: user.id }, now);
    return tx.tokens.issue(user.id, now, {
      kind: "enrol",
      ttl: gw.config.sessions.enrolTtl,
      origin: webOrigin(gw),
    });
  });
  // In the fragment: never sent to a server, never in a Referer; the page removes it from the address bar.
  return {
    user: { id: user.id, name: user.name },
    url: `${gw.config.webBaseUrl}/#enrol=${t.token}`,
    expiresAt: t.expiresAt!,
  };
}
