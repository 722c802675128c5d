// Issue 16: /admin/peers/{ocid}*: fund or debit a partner's reserve, pay out a merchant's balance.
import type { AdminRoute } from "./route";
import { answer, idempotencyKey, requestText } from "./route";
import * as S from "./schemas";
import { movePeerFunds, peerBalances, peerOcid } from "./peers";
import { withIdempotency } from "./idempotency";

const funds = (kind: "credit" | "debit"): AdminRoute => ({
  method: "POST",
  path: `/peers/:ocid/${kind}s`,
  scope: "peers:write",
  summary: kind === "credit" ? "Fund a peer's account with us (a partner's reserve deposit)" : "Debit a peer's account (pay out a merchant's balance, return a reserve)",
  body: S.FundsBody,
  status: 201,
  response: S.Movement,
  idempotent: true,
  handle: (gw, c) =>
    answer(
      withIdempotency(gw, c.key.name, idempotencyKey(c), requestText(c), () => ({
        status: 201,
        body: { movement: movePeerFunds(gw, c.key.name, peerOcid(gw, c.params.ocid), kind, c.body.currency, c.body.amount) },
      })),
    ),
});

export const PEER_ROUTES: AdminRoute[] = [
  { method: "GET", path: "/peers/:ocid", scope: "ledger:read", summary: "A peer's balances with us", response: S.PeerBalances, handle: (gw, c) => peerBalances(gw, peerOcid(gw, c.params.ocid)) },
  funds("credit"),
  funds("debit"),
];
