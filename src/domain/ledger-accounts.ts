// §12.1 ledger accounts as data: what each kind of account means and whether it may go negative (its floor).
// Pure. The store's conditional debit (src/store/ledger.ts) floors every account this table says is floored.

export type AccountKind = "user" | "peer" | "settlement_in_flight" | "external" | "funding";

type AccountRule = { kind: AccountKind; means: string; mayGoNegative: boolean; matches: (account: string) => boolean };

export const IN_FLIGHT = "settlement_in_flight";
export const FUNDING = "funding";

const prefixed = (prefix: string) => (account: string) => account.startsWith(prefix);

/** §12.1's account table. */
export const ACCOUNT_RULES: readonly AccountRule[] = [
  { kind: "user", means: "an end user's wallet", mayGoNegative: false, matches: prefixed("user:") },
  {
    kind: "peer",
    means: "a peer's account held here: merchant or MG proceeds, partner prefunding",
    mayGoNegative: false,
    matches: prefixed("peer:"),
  },
  {
    kind: "settlement_in_flight",
    means: "user money between confirmation and settlement",
    mayGoNegative: false,
    matches: (a) => a === IN_FLIGHT,
  },
  {
    kind: "external",
    means: "money that left or entered our books through that peer",
    mayGoNegative: true,
    matches: prefixed("external:"),
  },
  { kind: "funding", means: "operator deposits and withdrawals", mayGoNegative: true, matches: (a) => a === FUNDING },
];

export const userAccount = (userId: string) => `user:${userId}`;
export const peerAccount = (ocid: number) => `peer:${ocid}`;
export const externalAccount = (ocid: number) => `external:${ocid}`;

/** Accounts that may go negative (money entering/leaving our books); all others are floored at zero. */
export const mayGoNegative = (account: string): boolean =>
  ACCOUNT_RULES.find((r) => r.matches(account))?.mayGoNegative ?? false;
