// Issue 16 audit log on PostgreSQL (the SQLite twin: ../audit.ts). Append-only: the schema's triggers refuse UPDATE
// and DELETE here too. Ids come from an identity column, so `page`'s cursor works as on SQLite.
import type { SQL } from "bun";
import type { Tx } from "../index";
import { redact } from "../audit";
import { int } from "./values";

export function pgAudit(sql: SQL): Tx["audit"] {
  return {
    async append(actor, action, args, now) {
      await sql`INSERT INTO audit_log (actor, action, args, at)
        VALUES (${actor}, ${action}, ${JSON.stringify(redact(args))}, ${now})`;
    },
    async page(before, limit) {
      const rows = await sql`SELECT id, actor, action, args, at FROM audit_log WHERE id < ${before}
        ORDER BY id DESC LIMIT ${limit}`;
      return rows.map((r: Record<string, unknown>) => ({
        id: int(r.id),
        actor: r.actor as string,
        action: r.action as string,
        args: JSON.parse(r.args as string),
        at: int(r.at),
      }));
    },
  };
}
