// Validating real answers against the response schema a route documents (issue 19's route-docs), for tests that
// exercise routes the response-schema test leaves to them.
import { expect } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { Gateway } from "../../src/gateway";
import { createApp } from "../../src/routes/server";
import { docOf } from "../../src/http/route-docs";

/** Issue 22's routes, each validated by tests/http/session-tokens.test.ts or tests/web/passkeys.test.ts. */
export const SIGN_IN_ROUTES = [
  "POST /app/session",
  "POST /app/signout",
  "GET /app/passkeys",
  "POST /app/passkeys/register/options",
  "POST /app/passkeys/register",
  "DELETE /app/passkeys/:id",
  "POST /app/passkeys/signin/options",
  "POST /app/passkeys/signin",
  "GET /app/checkout/:id/status",
  "GET /app/checkout/:id/qr.svg",
];

type Route = { method: string; path: string; hooks?: { detail?: Record<string, unknown> } };
const tables = new WeakMap<Gateway, Route[]>();

/** Fails the test unless `body` conforms to the 200 schema `METHOD path` documents. */
export function conformsToDoc(gw: Gateway, route: string, body: unknown): void {
  let table = tables.get(gw);
  if (!table) tables.set(gw, (table = (createApp(gw) as unknown as { routes: Route[] }).routes));
  const r = table.find((x) => `${x.method} ${x.path}` === route);
  const schema = docOf(r?.hooks?.detail)?.response;
  expect({ route, documented: !!schema }).toEqual({ route, documented: true });
  const errors = [...TypeCompiler.Compile(schema!).Errors(body)].slice(0, 3).map((e) => `${e.path} ${e.message}`);
  expect({ route, errors }).toEqual({ route, errors: [] });
}
