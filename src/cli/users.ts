import type { Gateway } from "../gateway";
import { balancesOf, createUserIn, creditUser, OperatorError, parseCreditSpec } from "../flows/accounts";
import { moveUserFunds, rotateUserToken, setFrozen } from "../admin/users";
import { userAccount } from "../store/ledger";
import { issueEnrolLink } from "../flows/sign-in";
import { usage, type Out, type Parsed } from "./run";
import { setUserOcid } from "../flows/end-user-ocid";

export async function usersCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, name, spec] = positionals;
  switch (sub) {
    case "add": {
      if (!name) return usage(out, "users add <name> [--credit CUR:AMOUNT]...");
      const credits = (values.credit ?? []).map((c) => parseCreditSpec(gw, c));
      const { user, token, balances } = await gw.store.transaction(async (tx) => {
        const created = await createUserIn(gw, tx, name, credits);
        const audited = { name, userId: created.user.id, credit: values.credit ?? [] };
        await tx.audit.append("cli", "users.create", audited, gw.clock());
        return { ...created, balances: await balancesOf(gw, tx, userAccount(created.user.id)) };
      });
      out.log(`created user ${user.name} (user_${user.id})`);
      for (const b of balances) out.log(`  ${b.currency} ${b.amount}`);
      out.log(token);
      return 0;
    }
    case "credit": {
      if (!name || !spec) return usage(out, "users credit <name> CUR:AMOUNT");
      const c = await creditUser(gw, name, spec);
      out.log(`credited ${name} ${c.currency} ${c.amount}`);
      return 0;
    }
    case "list": {
      const lines = await gw.store.read(async (tx) => {
        const lines: string[] = [];
        for (const u of await tx.users.list()) {
          const bal = (await balancesOf(gw, tx, userAccount(u.id))).map((b) => `${b.currency} ${b.amount}`).join(", ");
          lines.push(`${u.name}\tuser_${u.id}\t${bal}${u.ocid ? `\tocid ${u.ocid}` : ""}`);
        }
        return lines;
      });
      for (const l of lines) out.log(l);
      return 0;
    }
    case "token": {
      if (!name) return usage(out, "users token <name>");
      const user = await byName(gw, name);
      const token = (await rotateUserToken(gw, "cli", user.id)).token;
      out.log(`new token for ${name} (older tokens revoked):`);
      out.log(token);
      return 0;
    }
    case "debit": {
      if (!name || !spec) return usage(out, "users debit <name> CUR:AMOUNT");
      const c = parseCreditSpec(gw, spec);
      const user = await byName(gw, name);
      const m = await gw.store.transaction((tx) =>
        moveUserFunds(gw, tx, "cli", user.id, "debit", c.currency, c.amount),
      );
      out.log(`debited ${name} ${m.currency} ${m.amount} (balance ${m.balance})`);
      return 0;
    }
    case "freeze":
    case "unfreeze": {
      if (!name) return usage(out, `users ${sub} <name>`);
      await setFrozen(gw, "cli", (await byName(gw, name)).id, sub === "freeze");
      out.log(`${name} is ${sub === "freeze" ? "frozen" : "no longer frozen"}`);
      return 0;
    }
    case "set-ocid": {
      if (!name || !spec) return usage(out, "users set-ocid <name> <ocid|none>");
      const r = await setUserOcid(gw, name, spec);
      if (r.ocid === null) out.log(`${name} has no OCID now`);
      else out.log(`${name} (user_${r.user.id}) holds OCID ${r.ocid}; point its registry entry at ${r.metadataUrl}`);
      return 0;
    }
    case "enrol-link": {
      if (!name) return usage(out, "users enrol-link <name>");
      const link = await issueEnrolLink(gw, "cli", await byName(gw, name));
      out.log(
        `one-time passkey enrolment link for ${name}, valid until ${new Date(link.expiresAt * 1000).toISOString()}:`,
      );
      out.log(link.url);
      return 0;
    }
    default:
      return usage(out, "users add | credit | debit | freeze | unfreeze | list | token | set-ocid | enrol-link");
  }
}

async function byName(gw: Gateway, name: string) {
  const user = await gw.store.read((tx) => tx.users.byName(name));
  if (!user) throw new OperatorError(`no user named "${name}"`);
  return user;
}
