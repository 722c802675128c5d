// Fills a gateway's gateway.sqlite directly with bun:sqlite, BEFORE the server starts:
//  - history: N settled orders (status 'paid', each with its used session) and their ledger movements, spread over
//    the bench users, so the growth phase can compare a young database with a big one;
//  - pending qr sessions for the throughput phases (the same row POST /app/pay writes; see README for why).
// The ledger stays balanced (§12.1): every movement is two equal and opposite entries, and `accounts` holds exactly
// the sum of its entries (the gateway checks this at start-up).
import { Database } from "bun:sqlite";
import { SQL } from "bun";

export type SeedUser = { id: string };

const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
/** History ids: unique, well-formed, and ascending so a million of them load in seconds (random keys cost 2x). */
const seqHex = (prefix: string, i: number, width: number) => prefix + i.toString(16).padStart(width - prefix.length, "0");

/**
 * Returns the ids of the pending sessions (`pending[i]` belongs to `users[i % users.length]`) and how many history
 * orders were written: fewer than asked when `deadline` (a performance.now() value) passes first.
 */
export function seedDatabase(
  dbPath: string,
  opts: { users: SeedUser[]; merchants: number[]; history: number; pendingSessions: number; sessionTtl: number; deadline?: number },
): { pending: { id: string; userId: string }[]; history: number; ms: number } {
  const t0 = performance.now();
  const db = new Database(dbPath, { strict: true });
  // The server is not running: no other connection, so bulk-load without a journal, then hand back a WAL database.
  db.exec("PRAGMA journal_mode = OFF");
  db.exec("PRAGMA synchronous = OFF");
  db.exec("PRAGMA cache_size = -262144");
  const now = Math.floor(Date.now() / 1000);
  const insSession = db.query("INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at, used_at) VALUES (?, 'qr', ?, ?, ?, ?, ?)");
  const insOrder = db.query(
    `INSERT INTO orders (session_id, caller_ocid, merchant_ocid, order_id, order_json, signature, sig_form, urls_json, amount, amount_minor,
       currency, user_id, status, confirm_deadline, candidates_json, settlement_type, final_txid, received_at, confirmed_at, updated_at)
     VALUES (?1, ?2, ?2, ?3, ?4, ?5, 'deep', '{}', '25.00', 2500, 'USD', ?6, 'paid', ?7, '[{"type":"direct"}]', 'direct', ?8, ?7, ?7, ?7)`,
  );
  const insEntry = db.query(
    "INSERT INTO ledger_entries (movement_id, account, currency, delta, reason, order_id, ref, created_at) VALUES (?, ?, 'USD', ?, ?, ?, ?, ?)",
  );
  const addBalance = db.query(
    `INSERT INTO accounts (account, currency, balance) VALUES (?1, 'USD', ?2)
     ON CONFLICT (account, currency) DO UPDATE SET balance = balance + excluded.balance`,
  );
  const fakeSig = "ab".repeat(64) + "1b"; // history rows are never re-verified; only their size matters
  const pending: { id: string; userId: string }[] = [];
  let written = 0;

  db.transaction(() => {
    const perUser = new Map<string, number>();
    const perMerchant = new Map<number, number>();
    for (let i = 0; i < opts.history; i++, written++) {
      if (opts.deadline !== undefined && i % 10_000 === 0 && performance.now() > opts.deadline) break;
      const user = opts.users[i % opts.users.length]!.id;
      const merchant = opts.merchants[i % opts.merchants.length]!;
      const at = now - opts.history + i; // one order a second, in the past
      const sid = seqHex("0", i, 32);
      const orderId = `hist_${i}`;
      const orderJson = `{"id":"${orderId}","ocid":${merchant},"reference":"POS-${i}","amount":"25.00","currency":"USD","items":[{"id":"item_001","name":"Coffee","quantity":2,"price":"5.00"},{"id":"item_002","name":"Sandwich","quantity":1,"price":"15.00"}],"createdAt":${at},"expiresAt":${at + 3600},"accepts":[200]}`;
      insSession.run(sid, user, "used", at, at + 300, at);
      const rowId = Number(insOrder.run(sid, merchant, orderId, orderJson, fakeSig, user, at, seqHex("tx_", i, 35)).lastInsertRowid);
      const mv = seqHex("0", i, 24);
      insEntry.run(mv, `user:${user}`, -2500, "settled_direct", rowId, null, at);
      insEntry.run(mv, `peer:${merchant}`, 2500, "settled_direct", rowId, null, at);
      perUser.set(user, (perUser.get(user) ?? 0) + 2500);
      perMerchant.set(merchant, (perMerchant.get(merchant) ?? 0) + 2500);
    }
    // Each user was funded with exactly what its history spent, so its current balance is unchanged.
    for (const [user, total] of perUser) {
      const mv = hex(12);
      insEntry.run(mv, "funding", -total, "funding", null, null, now - opts.history - 1);
      insEntry.run(mv, `user:${user}`, total, "funding", null, null, now - opts.history - 1);
      addBalance.run("funding", -total);
    }
    for (const [m, total] of perMerchant) addBalance.run(`peer:${m}`, total);

    for (let i = 0; i < opts.pendingSessions; i++) {
      const user = opts.users[i % opts.users.length]!.id;
      const id = hex(16);
      insSession.run(id, user, "pending", now, now + opts.sessionTtl, null);
      pending.push({ id, userId: user });
    }
  })();
  db.exec("PRAGMA journal_mode = WAL");
  db.close();
  return { pending, history: written, ms: performance.now() - t0 };
}

/** Ids for pending sessions, made before the databases they go into (bench/nodes.ts seeds the same ones in each). */
export const sessionIds = (n: number): string[] => Array.from({ length: n }, () => hex(16));

/**
 * Pending qr sessions in a PostgreSQL store (bench/nodes.ts), the same rows as above; no history (the multi-node
 * phase measures submits, not growth). `pending[i]` belongs to `users[i % users.length]`.
 */
export async function seedPostgresSessions(
  url: string,
  opts: { users: SeedUser[]; ids: string[]; sessionTtl: number },
): Promise<{ pending: { id: string; userId: string }[]; history: number; ms: number }> {
  const t0 = performance.now();
  const sql = new SQL(url, { max: 1 });
  try {
    const now = Math.floor(Date.now() / 1000);
    const ids = opts.ids;
    const owners = ids.map((_, i) => opts.users[i % opts.users.length]!.id);
    await sql`INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at)
      SELECT id, 'qr', user_id, 'pending', ${now}, ${now + opts.sessionTtl}
      FROM unnest(${ids}::text[], ${owners}::text[]) AS s(id, user_id)`;
    return { pending: ids.map((id, i) => ({ id, userId: owners[i]! })), history: 0, ms: performance.now() - t0 };
  } finally {
    await sql.close();
  }
}
