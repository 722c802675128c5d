// Issue 16: the audit log — who (API key name or `cli`), what, arguments with secrets redacted, when. Append-only:
// triggers in the schema refuse UPDATE and DELETE, so not even a bug here can rewrite history.
import type { Database } from "bun:sqlite";

export type AuditEntry = { id: number; actor: string; action: string; args: Record<string, unknown>; at: number };

/** Argument names whose values never reach the log (tokens, keys, secrets, signatures, proofs' signatures). */
const SECRET_NAME = /token|secret|key|password|signature|authorization/i;

export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, SECRET_NAME.test(k) ? "[redacted]" : redact(x)]),
    );
  return v;
}

export function audit(db: Database) {
  const insert = db.query("INSERT INTO audit_log (actor, action, args, at) VALUES (?, ?, ?, ?)");
  const page = db.query<{ id: number; actor: string; action: string; args: string; at: number }, [number, number]>(
    "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
  );
  return {
    /** Call inside the transaction of the mutation it records. */
    append(actor: string, action: string, args: Record<string, unknown>, now: number): void {
      insert.run(actor, action, JSON.stringify(redact(args)), now);
    },
    /** Newest first, ids below `before`. */
    page: (before: number, limit: number): AuditEntry[] =>
      page
        .all(before, limit)
        .map((r) => ({ id: r.id, actor: r.actor, action: r.action, args: JSON.parse(r.args), at: r.at })),
  };
}
export type Audit = ReturnType<typeof audit>;
