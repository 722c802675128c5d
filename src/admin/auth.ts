// Issue 16: `Authorization: Bearer ock_…` on /admin. Unknown or revoked → 401; a missing scope → 403.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { ApiKey } from "../store/api-keys";
import type { Scope } from "../domain/scopes";

export async function apiKeyFromAuthorization(gw: Pick<Gateway, "store">, header: string | null): Promise<ApiKey> {
  const m = /^Bearer (\S+)$/.exec(header ?? "");
  const key = m ? await gw.store.read((tx) => tx.apiKeys.byKey(m[1]!)) : null;
  if (!key)
    throw new ProtocolError(
      "INVALID_TOKEN",
      "Unknown or revoked API key; send Authorization: Bearer <key from `oc apikeys create`>",
    );
  return key;
}

export function requireScope(key: ApiKey, scope: Scope): void {
  if (!key.scopes.includes(scope))
    throw new ProtocolError("UNAUTHORIZED", `This API key lacks the ${scope} scope`, { missingScope: scope });
}
