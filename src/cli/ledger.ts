import type { Gateway } from "../gateway";
import { checkLedger } from "../store/ledger";
import { formatMinor } from "../protocol/money";
import { usage, type Out, type Parsed } from "./run";
import { creditPeer } from "../flows/accounts";
import { parseOcidArg } from "../flows/end-user-ocid";

export function ledgerCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): number {
  if (positionals[0] === "fund-peer") {
    const [, ocid, spec] = positionals;
    if (!ocid || !spec) return usage(out, "ledger fund-peer <ocid> CUR:AMOUNT");
    const c = creditPeer(gw, parseOcidArg(ocid), spec);
    out.log(`credited peer:${ocid} ${c.currency} ${c.amount}`);
    return 0;
  }
  if (positionals[0] !== "balances") return usage(out, "ledger balances [--account A] | fund-peer <ocid> CUR:AMOUNT");
  const rows = gw.db
    .query<{ account: string; currency: string; balance: string }, [string | null]>(
      "SELECT account, currency, CAST(balance AS TEXT) AS balance FROM accounts WHERE ?1 IS NULL OR account = ?1 ORDER BY account, currency",
    )
    .all((values.account as string | undefined) ?? null);
  for (const r of rows) {
    const amount = gw.currencies.has(r.currency) ? formatMinor(BigInt(r.balance), r.currency, gw.currencies) : r.balance;
    out.log(`${r.account}\t${r.currency}\t${amount}`);
  }
  const check = checkLedger(gw.db);
  out.log(check.ok ? "ledger: balanced (entries sum to zero per currency; balances match entries)" : `ledger: BROKEN\n  ${check.problems.join("\n  ")}`);
  return check.ok ? 0 : 1;
}
