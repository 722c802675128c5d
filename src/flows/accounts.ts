// Operator and demo funding: users and peers are credited through ledger movements from `funding` (§12.1),
// never by writing a balance directly.
import type { Gateway } from "../gateway";
import { parseAmount, formatMinor } from "../protocol/money";
import { FUNDING, peerAccount, userAccount } from "../store/ledger";
import type { User } from "../store/users";
import { enforceUserMovement } from "./user-limits";
import { emitEvent } from "../notify/operator-events";
import type { Tx } from "../store";

export type Credit = { currency: string; amount: string };

export class OperatorError extends Error {}

/** "USD:25.00" → {currency, amount}, validated against the enabled currencies. */
export function parseCreditSpec(
  gw: Pick<Gateway, "currencies" | "enabledCurrencies">,
  spec: string,
): Credit & { minor: bigint } {
  const m = /^([A-Z]{3,5}):(.+)$/.exec(spec.trim());
  if (!m) throw new OperatorError(`expected CUR:AMOUNT (e.g. USD:25.00), got "${spec}"`);
  const [, currency, amount] = m as unknown as [string, string, string];
  const r = parseAmount(amount, currency, gw.currencies, gw.enabledCurrencies);
  if (!r.ok)
    throw new OperatorError(
      r.code === "INVALID_AMOUNT"
        ? `invalid amount "${amount}" for ${currency}: ${r.message}`
        : `currency ${currency} is not enabled`,
    );
  return { currency, amount, minor: r.minor };
}

const NAME_RE = /^[\p{L}\p{N} ._@-]{1,64}$/u;
const NAME_RULE = "name: 1–64 letters, digits, spaces or . _ @ -";

export async function createUser(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "store">,
  name: string,
  credits: string[] = [],
): Promise<{ user: User; token: string }> {
  if (!NAME_RE.test(name)) throw new OperatorError(NAME_RULE);
  const parsed = credits.map((c) => parseCreditSpec(gw, c));
  return gw.store.transaction((tx) => createUserIn(gw, tx, name, parsed));
}

/** createUser inside an open transaction (the operator API's, with its audit row); credits already parsed. */
export async function createUserIn(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies">,
  tx: Tx,
  name: string,
  credits: (Credit & { minor: bigint })[] = [],
): Promise<{ user: User; token: string }> {
  if (!NAME_RE.test(name)) throw new OperatorError(NAME_RULE);
  const now = gw.clock();
  if (await tx.users.byName(name)) throw new OperatorError(`user "${name}" already exists`);
  const created = await tx.users.create(name, now, gw.config.tokenTtl);
  for (const c of credits)
    await tx.ledger.move({
      from: FUNDING,
      to: userAccount(created.user.id),
      currency: c.currency,
      amount: c.minor,
      reason: "funding",
      now,
    });
  return created;
}

/** Issue 16: obeys frozen state and limits, and appends the audit row (actor "cli" for the CLI). */
export async function creditUser(
  gw: Pick<Gateway, "clock" | "config" | "currencies" | "enabledCurrencies" | "events" | "store" | "tiers">,
  name: string,
  spec: string,
  actor = "cli",
): Promise<Credit> {
  const c = parseCreditSpec(gw, spec);
  const now = gw.clock();
  await gw.store.transaction(async (tx) => {
    const user = await tx.users.byName(name);
    if (!user) throw new OperatorError(`no user named "${name}"`);
    await enforceUserMovement(gw, tx, user.id, "credit", c.currency, c.minor);
    await tx.ledger.move({
      from: FUNDING,
      to: userAccount(user.id),
      currency: c.currency,
      amount: c.minor,
      reason: "funding",
      now,
    });
    await tx.audit.append(actor, "users.credit", { userId: user.id, currency: c.currency, amount: c.amount }, now);
    await emitEvent(gw, tx, "credit.received", {
      userId: user.id,
      currency: c.currency,
      amount: formatMinor(c.minor, c.currency, gw.currencies),
      source: "operator",
    });
  });
  return { currency: c.currency, amount: c.amount };
}

/** Operator: prefund a peer's account here (what its /transfer/create calls draw on, §9.7). */
export async function creditPeer(
  gw: Pick<Gateway, "clock" | "currencies" | "enabledCurrencies" | "store">,
  ocid: number,
  spec: string,
  actor = "cli",
): Promise<Credit> {
  const c = parseCreditSpec(gw, spec);
  const now = gw.clock();
  await gw.store.transaction(async (tx) => {
    await tx.ledger.move({
      from: FUNDING,
      to: peerAccount(ocid),
      currency: c.currency,
      amount: c.minor,
      reason: "funding",
      now,
    });
    await tx.audit.append(actor, "ledger.fund-peer", { ocid, currency: c.currency, amount: c.amount }, now);
  });
  return { currency: c.currency, amount: c.amount };
}

/** One entry per enabled currency, zero included, sorted by code, formatted per §6.3. */
export async function balancesOf(
  gw: Pick<Gateway, "currencies" | "enabledCurrencies">,
  tx: Tx,
  account: string,
): Promise<Credit[]> {
  const out: Credit[] = [];
  for (const currency of [...gw.enabledCurrencies].sort())
    out.push({ currency, amount: formatMinor(await tx.ledger.balance(account, currency), currency, gw.currencies) });
  return out;
}
