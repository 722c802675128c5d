// Issue 13 scans on PostgreSQL (the SQLite twin: ../scans.ts): what a user scanned, one row per `scan` session.
import type { SQL } from "bun";
import type { Tx } from "../index";
import type { ScanRow } from "../scans";
import { withInts } from "./values";

const INTS = ["merchant_ocid", "created_at", "updated_at"] as const;

export function pgScans(sql: SQL): Tx["scans"] {
  return {
    async insert(r) {
      await sql`INSERT INTO scans (session_id, kind, merchant_ocid, code, source_url, inventory_json, created_at,
          updated_at)
        VALUES (${r.session_id}, ${r.kind}, ${r.merchant_ocid}, ${r.code}, ${r.source_url}, ${r.inventory_json},
          ${r.created_at}, ${r.created_at})`;
    },
    async get(sessionId) {
      const [r] = await sql`SELECT session_id, kind, merchant_ocid, code, source_url, inventory_json, created_at,
        updated_at FROM scans WHERE session_id = ${sessionId}`;
      return r ? withInts<ScanRow>(r, INTS) : null;
    },
    async becomeOrder(sessionId, now) {
      const rows = await sql`UPDATE scans SET kind = 'order', updated_at = ${now}
        WHERE session_id = ${sessionId} AND kind = 'inventory' RETURNING 1`;
      return rows.length === 1;
    },
  };
}
