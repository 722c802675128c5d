import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";

/** §10.1: `Authorization: Bearer <64 hex>` (never a URL parameter) → the user, or 401 INVALID_TOKEN. */
export function userFromAuthorization(gw: Gateway, header: string | null | undefined): User {
  const m = /^Bearer ([0-9a-f]{64})$/.exec(header ?? "");
  const user = m ? gw.store.users.byToken(m[1]!, gw.clock()) : null;
  if (!user) throw new ProtocolError("INVALID_TOKEN");
  return user;
}
