import type { Gateway } from "../gateway";
import { formatMinor } from "../protocol/money";
import { usage, type Out, type Parsed } from "./run";
import { creditPeer } from "../flows/accounts";
import { parseOcidArg } from "../flows/end-user-ocid";

export async function ledgerCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  if (positionals[0] === "fund-peer") {
    const [, ocid, spec] = positionals;
    if (!ocid || !spec) return usage(out, "ledger fund-peer <ocid> CUR:AMOUNT");
    const c = await creditPeer(gw, parseOcidArg(ocid), spec);
    out.log(`credited peer:${ocid} ${c.currency} ${c.amount}`);
    return 0;
  }
  if (positionals[0] !== "balances") return usage(out, "ledger balances [--account A] | fund-peer <ocid> CUR:AMOUNT");
  const { rows, check } = await gw.store.read(async (tx) => ({
    rows: await tx.ledger.balances(values.account as string | undefined),
    check: await tx.ledger.check(),
  }));
  for (const r of rows) {
    const amount = gw.currencies.has(r.currency)
      ? formatMinor(r.balance, r.currency, gw.currencies)
      : String(r.balance);
    out.log(`${r.account}\t${r.currency}\t${amount}`);
  }
  const balanced = "ledger: balanced (entries sum to zero per currency; balances match entries)";
  out.log(check.ok ? balanced : `ledger: BROKEN\n  ${check.problems.join("\n  ")}`);
  return check.ok ? 0 : 1;
}
