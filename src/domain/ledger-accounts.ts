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
    matches: (a) => inFlightShardOf(a) !== null,
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

/**
 * Issue 18 item 4: settlement_in_flight is one account in the books but IN_FLIGHT_SHARDS balance rows, so confirms
 * on several nodes do not all queue on one row's lock (measured on PostgreSQL: one row caps confirms near 1,900/s
 * at 8 writers; 16 rows, 3,716/s). A movement's row is chosen by its key (the order id, else its reference), so an
 * order's later debit normally finds its money on the row its confirm credited, and every row keeps the floor.
 * Shard 0 keeps the bare name: books written before the split hold all their in-flight money there.
 */
export const IN_FLIGHT_SHARDS = 16;
const SHARD_SEPARATOR = ":";

/** The balance row of one shard of settlement_in_flight. */
export const inFlightRow = (shard: number): string =>
  shard === 0 ? IN_FLIGHT : `${IN_FLIGHT}${SHARD_SEPARATOR}${shard}`;

/** Every balance row of settlement_in_flight, shard 0 first. */
export const IN_FLIGHT_ROWS: readonly string[] = Array.from({ length: IN_FLIGHT_SHARDS }, (_, i) => inFlightRow(i));

/** The balance rows the books keep an account in: settlement_in_flight's shards, else the account's one row. */
export const balanceRows = (account: string): readonly string[] => (account === IN_FLIGHT ? IN_FLIGHT_ROWS : [account]);

/** Which shard a balance row is of settlement_in_flight, or null for any other account. */
export function inFlightShardOf(account: string): number | null {
  if (account === IN_FLIGHT) return 0;
  if (!account.startsWith(IN_FLIGHT + SHARD_SEPARATOR)) return null;
  const digits = account.slice(IN_FLIGHT.length + 1);
  const n = Number(digits);
  return /^[1-9][0-9]*$/.test(digits) && n < IN_FLIGHT_SHARDS ? n : null;
}

/** The account a balance row belongs to in the books (a shard row reports as settlement_in_flight). */
export const bookAccount = (row: string): string => (inFlightShardOf(row) === null ? row : IN_FLIGHT);

/** The shard a movement books settlement_in_flight on: FNV-1a of its key, so the same key always picks the same row. */
export function inFlightShard(key: string | number | null | undefined): number {
  if (key === null || key === undefined) return 0;
  let h = 0x811c9dc5;
  for (const ch of String(key)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h % IN_FLIGHT_SHARDS;
}

/**
 * How a debit of `amount` is taken from the rows of a sharded account when the preferred row is short: from the
 * fullest rows first, as few as possible. Null when the rows together hold less (the account is short).
 */
export function splitDebit(
  rows: readonly { row: string; balance: bigint }[],
  amount: bigint,
): { row: string; amount: bigint }[] | null {
  const parts: { row: string; amount: bigint }[] = [];
  let left = amount;
  for (const r of [...rows].sort((a, b) => (a.balance > b.balance ? -1 : a.balance < b.balance ? 1 : 0))) {
    if (left === 0n) break;
    if (r.balance <= 0n) continue;
    const take = r.balance < left ? r.balance : left;
    parts.push({ row: r.row, amount: take });
    left -= take;
  }
  return left === 0n ? parts : null;
}
