// Issue 16: `oc apikeys create <name> --scopes a,b | list | revoke <name>`. The key is printed once, alone on the
// last line (scripts take `tail -1`); only its SHA-256 is stored.
import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import { parseScopes, SCOPES } from "../domain/scopes";
import { usage, type Out, type Parsed } from "./run";

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

const MS_PER_SECOND = 1000;

export async function apikeysCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, name] = positionals;
  switch (sub) {
    case "create": {
      if (!name || typeof values.scopes !== "string") return usage(out, "apikeys create <name> --scopes a,b,…");
      if (!NAME_RE.test(name) || name === "cli")
        throw new OperatorError('name: 1–64 of A-Z a-z 0-9 . _ - (and not "cli", the CLI\'s audit name)');
      const parsed = parseScopes(values.scopes);
      if (!parsed.ok) throw new OperatorError(`unknown scope "${parsed.unknown}"; scopes: ${SCOPES.join(", ")}`);
      if (parsed.scopes.length === 0) throw new OperatorError("--scopes must name at least one scope");
      const now = gw.clock();
      const key = await gw.store.transaction(async (tx) => {
        if (await tx.apiKeys.byName(name))
          throw new OperatorError(`an API key named "${name}" exists (revoke it or pick another name)`);
        const k = await tx.apiKeys.create(name, parsed.scopes, now);
        await tx.audit.append("cli", "apikeys.create", { name, scopes: parsed.scopes }, now);
        return k;
      });
      out.log(
        `created API key ${name} with scopes ${parsed.scopes.join(",")} (shown once; send as Authorization: Bearer ` +
          `<key>):`,
      );
      out.log(key);
      return 0;
    }
    case "list":
      for (const k of await gw.store.read((tx) => tx.apiKeys.list()))
        out.log(
          [
            k.name,
            k.scopes.join(","),
            new Date(k.createdAt * MS_PER_SECOND).toISOString(),
            k.revokedAt ? `revoked ${new Date(k.revokedAt * MS_PER_SECOND).toISOString()}` : "active",
          ].join("\t"),
        );
      return 0;
    case "revoke": {
      if (!name) return usage(out, "apikeys revoke <name>");
      const now = gw.clock();
      const ok = await gw.store.transaction(async (tx) => {
        const done = await tx.apiKeys.revoke(name, now);
        if (done) await tx.audit.append("cli", "apikeys.revoke", { name }, now);
        return done;
      });
      if (!ok) throw new OperatorError(`no active API key named "${name}"`);
      out.log(`revoked ${name}`);
      return 0;
    }
    default:
      return usage(out, "apikeys create <name> --scopes a,b | list | revoke <name>");
  }
}
