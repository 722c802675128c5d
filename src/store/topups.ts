// Issue 17: top-ups through another gateway, from the signed order to the one credit its proof makes.
import type { Database } from "bun:sqlite";

export type TopupStatus = "pending" | "credited";
export type Topup = {
  id: string;
  userId: string;
  via: number;
  amount: string;
  amountMinor: bigint;
  currency: string;
  status: TopupStatus;
  checkoutUrl: string | null;
  txid: string | null;
  createdAt: number;
  creditedAt: number | null;
};
export type NewTopup = Pick<Topup, "id" | "userId" | "via" | "amount" | "amountMinor" | "currency"> & {
  orderJson: string;
  now: number;
};

type Row = {
  id: string;
  user_id: string;
  via: number;
  amount: string;
  m: string;
  currency: string;
  status: TopupStatus;
  checkout_url: string | null;
  txid: string | null;
  created_at: number;
  credited_at: number | null;
};
const SELECT = `SELECT id, user_id, via, amount, CAST(amount_minor AS TEXT) AS m, currency, status, checkout_url, txid,
  created_at, credited_at FROM topups`;
const toTopup = (r: Row | null): Topup | null =>
  r && {
    id: r.id,
    userId: r.user_id,
    via: r.via,
    amount: r.amount,
    amountMinor: BigInt(r.m),
    currency: r.currency,
    status: r.status,
    checkoutUrl: r.checkout_url,
    txid: r.txid,
    createdAt: r.created_at,
    creditedAt: r.credited_at,
  };

export function topups(db: Database) {
  const insert = db.query(
    `INSERT INTO topups (id, user_id, via, order_json, amount, amount_minor, currency, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
  );
  const byId = db.query<Row, [string]>(`${SELECT} WHERE id = ?`);
  const ofUser = db.query<Row, [string, string]>(`${SELECT} WHERE id = ? AND user_id = ?`);
  const dropPending = db.query("DELETE FROM topups WHERE id = ? AND status = 'pending'");
  const checkoutUrl = db.query("UPDATE topups SET checkout_url = ? WHERE id = ?");
  const credited = db.query(
    "UPDATE topups SET status = 'credited', txid = ?, credited_at = ? WHERE id = ? AND status = 'pending'",
  );
  return {
    insert(t: NewTopup): void {
      insert.run(t.id, t.userId, t.via, t.orderJson, t.amount, t.amountMinor, t.currency, t.now);
    },
    byId: (id: string): Topup | null => toTopup(byId.get(id)),
    ofUser: (id: string, userId: string): Topup | null => toTopup(ofUser.get(id, userId)),
    /** Nothing can be paid against an order the hosting gateway refused: the pending top-up goes. */
    dropPending: (id: string): void => void dropPending.run(id),
    setCheckoutUrl: (id: string, url: string): void => void checkoutUrl.run(url, id),
    /** true when this call made the credit (a pending top-up is credited once). */
    markCredited: (id: string, txid: string, now: number): boolean => credited.run(txid, now, id).changes === 1,
  };
}
