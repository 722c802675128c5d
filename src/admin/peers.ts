// Issue 16: peers' accounts with us. A partner's reserve (`peer:<ocid>`) is funded when it deposits with us and
// debited when we return it; a merchant's balance from direct settlement is paid out the same way. `funding` is
// the books' edge, as for users.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { amountOrThrow } from "../flows/order-intake";
import { peerAccount } from "../store/ledger";
import { balancesOf } from "../flows/accounts";
import type { Tx } from "../store";
import { moveAgainstFunding, movementJson, type MovementJson } from "./users";

export function peerOcid(gw: Pick<Gateway, "config">, s: string | undefined): number {
  if (!s || !/^[1-9][0-9]{0,15}$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new ProtocolError("INVALID_REQUEST", "Not an OCID", { fields: ["ocid"] });
  const ocid = Number(s);
  if (ocid === gw.config.ocid)
    throw new ProtocolError("INVALID_REQUEST", "That is this gateway's own OCID", { fields: ["ocid"] });
  return ocid;
}

export const peerBalances = (gw: Gateway, ocid: number) =>
  gw.store.read(async (tx) => ({
    ocid,
    account: peerAccount(ocid),
    balances: await balancesOf(gw, tx, peerAccount(ocid)),
  }));

/** In `tx` (the idempotency wrapper's). `credit`: a deposit; `debit`: a payout. */
export async function movePeerFunds(
  gw: Pick<Gateway, "clock" | "currencies" | "enabledCurrencies">,
  tx: Tx,
  actor: string,
  ocid: number,
  kind: "credit" | "debit",
  currency: string,
  amount: string,
): Promise<MovementJson> {
  const minor = amountOrThrow(gw, amount, currency);
  const account = peerAccount(ocid);
  const now = gw.clock();
  const reason = kind === "credit" ? "peer_funding" : "peer_payout";
  const tooLow = `peer ${ocid}'s balance with us is too low for this payout`;
  const id = await moveAgainstFunding(tx, { actor, account, kind, currency, minor, reason, tooLow, now });
  await tx.audit.append(
    actor,
    kind === "credit" ? "peers.credit" : "peers.debit",
    { ocid, currency, amount, movementId: id },
    now,
  );
  return movementJson(gw, tx, { id, kind, account, currency, minor, now });
}
