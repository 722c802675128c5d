// Issue 13: what a user scanned (a merchant order QR, an inventory QR, an `opencharge:` sticker), one row per
// `scan` session. Mutators run inside the caller's transaction.
import type { Database } from "bun:sqlite";
import { camelOrNull, type Camel } from "./records";

type Row = {
  session_id: string;
  kind: string;
  merchant_ocid: number;
  code: string;
  source_url: string | null;
  inventory_json: string | null;
  created_at: number;
  updated_at: number;
};
export type ScanRow = Camel<Row>;

export function scans(db: Database) {
  const insert = db.query(
    `INSERT INTO scans (session_id, kind, merchant_ocid, code, source_url, inventory_json, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const get = db.query<Row, [string]>("SELECT * FROM scans WHERE session_id = ?");
  const becomeOrder = db.query(
    "UPDATE scans SET kind = 'order', updated_at = ?2 WHERE session_id = ?1 AND kind = 'inventory'",
  );
  return {
    insert: (r: Omit<ScanRow, "updatedAt">): void =>
      void insert.run(
        r.sessionId,
        r.kind,
        r.merchantOcid,
        r.code,
        r.sourceUrl,
        r.inventoryJson,
        r.createdAt,
        r.createdAt,
      ),
    get: (sessionId: string) => camelOrNull(get.get(sessionId)),
    /** An inventory session whose picked items the merchant signed. */
    becomeOrder: (sessionId: string, now: number) => becomeOrder.run(sessionId, now).changes === 1,
  };
}
export type Scans = ReturnType<typeof scans>;
