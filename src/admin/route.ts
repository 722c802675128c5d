// Issue 16: one /admin route as data — method, path, the scope it needs, schemas and a thin handler. The plugin
// (routes/admin.ts) registers them; the OpenAPI document and the scope-matrix test read the same table.
import type { TSchema } from "elysia";
import type { Gateway } from "../gateway";
import type { Scope } from "../domain/scopes";
import type { ApiKey } from "../store/api-keys";
import { ProtocolError } from "../protocol/errors";
import { jsonResponse } from "../http/responses";
import { withIdempotency, type Answer } from "./idempotency";
import type { Tx } from "../store";
import * as S from "./schemas";
import type { MovementJson } from "./users";

export type AdminCtx = {
  key: ApiKey;
  body: any;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  request: Request;
};

export type AdminRoute = {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  scope: Scope;
  summary: string;
  body?: TSchema;
  query?: TSchema;
  /** The success status and its body schema (text/csv routes give `csv: true`). */
  status?: number;
  response: TSchema | "csv";
  /** Accepts an Idempotency-Key header (documented in openapi.json). */
  idempotent?: boolean;
  handle: (gw: Gateway, c: AdminCtx) => unknown;
};

const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;

export const answer = (a: Answer): Response => jsonResponse(a.status, a.body);

/** `limit` 1–200 (default 50) and a numeric cursor (exclusive). */
export function pageParams(
  q: Record<string, string | undefined>,
  defaultCursor: number,
): { limit: number; cursor: number } {
  const limit = q.limit === undefined ? PAGE_DEFAULT : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX)
    throw new ProtocolError("INVALID_REQUEST", `limit must be 1–${PAGE_MAX}`, { fields: ["limit"] });
  const cursor = q.cursor === undefined ? defaultCursor : Number(q.cursor);
  if (!Number.isSafeInteger(cursor) || cursor < 0)
    throw new ProtocolError("INVALID_REQUEST", "invalid cursor", { fields: ["cursor"] });
  return { limit, cursor };
}

/** Rows fetched with limit + 1: the page and, when there is more, the cursor of its last item. */
export function paged<R, T>(
  rows: R[],
  limit: number,
  cursorOf: (r: R) => number,
  map: (r: R) => T,
): { items: T[]; nextCursor?: string } {
  const out: { items: T[]; nextCursor?: string } = { items: rows.slice(0, limit).map(map) };
  if (rows.length > limit) out.nextCursor = String(cursorOf(rows[limit - 1]!));
  return out;
}

export const requestText = (c: AdminCtx): string =>
  `${c.request.method} ${new URL(c.request.url).pathname} ${JSON.stringify(c.body ?? null)}`;
export const idempotencyKey = (c: AdminCtx): string | null => c.request.headers.get("idempotency-key");

type FundsKind = "credit" | "debit";

/** POST …/credits and …/debits: one idempotent ledger movement (Idempotency-Key: stored answer / 422 / 409). */
export const fundsRoutes = (
  base: string,
  scope: Scope,
  summaries: Record<FundsKind, string>,
  move: (gw: Gateway, tx: Tx, c: AdminCtx, kind: FundsKind) => Promise<MovementJson>,
): AdminRoute[] =>
  (["credit", "debit"] as const).map((kind) => ({
    method: "POST",
    path: `${base}/${kind}s`,
    scope,
    summary: summaries[kind],
    body: S.FundsBody,
    status: 201,
    response: S.Movement,
    idempotent: true,
    handle: async (gw, c) =>
      answer(
        await withIdempotency(gw, c.key.name, idempotencyKey(c), requestText(c), async (tx) => ({
          status: 201,
          body: { movement: await move(gw, tx, c, kind) },
        })),
      ),
  }));
