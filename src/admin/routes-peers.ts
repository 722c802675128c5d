// Issue 16: /admin/peers/{ocid}*: fund or debit a partner's reserve, pay out a merchant's balance.
import type { AdminRoute } from "./route";
import { fundsRoutes } from "./route";
import * as S from "./schemas";
import { movePeerFunds, peerBalances, peerOcid } from "./peers";

export const PEER_ROUTES: AdminRoute[] = [
  {
    method: "GET",
    path: "/peers/:ocid",
    scope: "ledger:read",
    summary: "A peer's balances with us",
    response: S.PeerBalances,
    handle: (gw, c) => peerBalances(gw, peerOcid(gw, c.params.ocid)),
  },
  ...fundsRoutes(
    "/peers/:ocid",
    "peers:write",
    {
      credit: "Fund a peer's account with us (a partner's reserve deposit)",
      debit: "Debit a peer's account (pay out a merchant's balance, return a reserve)",
    },
    (gw, tx, c, kind) =>
      movePeerFunds(gw, tx, c.key.name, peerOcid(gw, c.params.ocid), kind, c.body.currency, c.body.amount),
  ),
];
