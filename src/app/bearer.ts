import type { Clock } from "../clock";
import type { Store, Tx } from "../store";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import type { TokenGrant } from "../store/tokens";

export type Auth = { user: User; grant: TokenGrant };
/** What reading a bearer token needs (not the whole gateway: routes and flows pass theirs). */
export type BearerDeps = { store: Pick<Store, "transaction">; clock: Clock };

const BEARER = /^Bearer ([0-9a-f]{64})$/;
const invalid = () =>
  new ProtocolError("INVALID_TOKEN", "Invalid token: sign in again (unknown, expired or signed out)");

/**
 * §10.1: `Authorization: Bearer <64 hex>` (never a URL parameter) → the user and what the token grants, or 401
 * INVALID_TOKEN (unknown, expired, idle too long or revoked). A session bound to an origin is refused when a
 * browser says the request comes from another one (a non-browser caller sends no Origin and is not helped by it).
 * Using a token counts for its idle timeout, so this is a (small) transaction of its own.
 */
export async function authFromAuthorization(
  gw: BearerDeps,
  header: string | null | undefined,
  origin?: string | null,
): Promise<Auth> {
  const m = BEARER.exec(header ?? "");
  if (!m) throw invalid();
  const token = m[1]!;
  return checked(await gw.store.transaction((tx) => tx.tokens.use(token, gw.clock())), origin);
}

/** authFromAuthorization inside the caller's transaction `tx` (a socket's sign-in and its replay together). */
export async function authIn(
  tx: Tx,
  now: number,
  header: string | null | undefined,
  origin?: string | null,
): Promise<Auth> {
  const m = BEARER.exec(header ?? "");
  if (!m) throw invalid();
  return checked(await tx.tokens.use(m[1]!, now), origin);
}

function checked(auth: Auth | null, origin: string | null | undefined): Auth {
  if (!auth) throw invalid();
  if (auth.grant.origin && origin && origin !== auth.grant.origin)
    throw new ProtocolError("INVALID_TOKEN", "This sign-in belongs to another site", { reason: "origin" });
  return auth;
}

export async function userFromAuthorization(
  gw: BearerDeps,
  header: string | null | undefined,
  origin?: string | null,
): Promise<User> {
  return (await authFromAuthorization(gw, header, origin)).user;
}
