import type { Clock } from "../clock";
import type { Store } from "../store";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import type { TokenGrant } from "../store/tokens";

export type Auth = { user: User; grant: TokenGrant };
/** What reading a bearer token needs (not the whole gateway: routes and flows pass theirs). */
export type BearerDeps = { store: Pick<Store, "tokens">; clock: Clock };

/**
 * §10.1: `Authorization: Bearer <64 hex>` (never a URL parameter) → the user and what the token grants, or 401
 * INVALID_TOKEN (unknown, expired, idle too long or revoked). A session bound to an origin is refused when a
 * browser says the request comes from another one (a non-browser caller sends no Origin and is not helped by it).
 */
export function authFromAuthorization(gw: BearerDeps, header: string | null | undefined, origin?: string | null): Auth {
  const m = /^Bearer ([0-9a-f]{64})$/.exec(header ?? "");
  const auth = m ? gw.store.tokens.use(m[1]!, gw.clock()) : null;
  if (!auth) throw new ProtocolError("INVALID_TOKEN", "Invalid token: sign in again (unknown, expired or signed out)");
  if (auth.grant.origin && origin && origin !== auth.grant.origin)
    throw new ProtocolError("INVALID_TOKEN", "This sign-in belongs to another site", { reason: "origin" });
  return auth;
}

export function userFromAuthorization(gw: BearerDeps, header: string | null | undefined, origin?: string | null): User {
  return authFromAuthorization(gw, header, origin).user;
}
