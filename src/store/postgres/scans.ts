// Issue 13 scans on PostgreSQL (the SQLite twin: ../scans.ts): what a user scanned, one row per `scan` session.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { ScanRow } from "../scans";
import { pgRecordOrNull } from "./rows";

export function pgScans(sql: SQL): Tx["scans"] {
  return {
    async insert(r) {
      await sql`INSERT INTO scans (session_id, kind, merchant_ocid, code, source_url, inventory_json, created_at,
          updated_at)
        VALUES (${r.sessionId}, ${r.kind}, ${r.merchantOcid}, ${r.code}, ${r.sourceUrl}, ${r.inventoryJson},
          ${r.createdAt}, ${r.createdAt})`;
    },
    async get(sessionId) {
      return pgRecordOrNull<ScanRow>(
        await sql`SELECT session_id, kind, merchant_ocid, code, source_url, inventory_json, created_at, updated_at
          FROM scans WHERE session_id = ${sessionId}`,
      );
    },
    async becomeOrder(sessionId, now) {
      const rows = await sql`UPDATE scans SET kind = 'order', updated_at = ${now}
        WHERE session_id = ${sessionId} AND kind = 'inventory' RETURNING 1`;
      return rows.length === 1;
    },
  };
}
