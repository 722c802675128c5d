// The opt-in wrapper every authenticated protocol route goes through (§4.3 order, §4.5 signed responses):
// per-IP limit → raw body (413) → authenticate → per-OCID limit → JSON object → route → signed response.
import type { Static, TSchema } from "@sinclair/typebox";
import { ProtocolError } from "../protocol/errors";
import { compileValidator, MAX_JSON_DEPTH, parseJsonObject } from "../protocol/validate";
import type { Gateway } from "../gateway";
import { authenticate, type Caller } from "../http/auth";
import { clientAddress } from "../http/client-address";
import { readBodyLimited, wireTarget } from "../http/raw-body";
import {
  errorResponse,
  jsonResponse,
  jsonResponseAsync,
  RawJson,
  responseDigest,
  type Presigned,
} from "../http/responses";
import { routeDoc, type RouteDoc } from "../http/route-docs";
import type { Tx } from "../store";
import type { FollowUp, Prechecked } from "../verify-pool";

/** `rawBody` is sent byte for byte instead of serialising `body` (stored idempotent replies). */
import type { ProtocolReply } from "../http/responses";
export type { ProtocolReply };

export type ProtocolContext<B> = {
  caller: Caller;
  body: B;
  raw: Uint8Array;
  headers: Headers;
  params: Record<string, string>;
  request: Request;
  /** Records the request's nonce in the route's open transaction `tx` (throws NONCE_REUSED). */
  recordNonce: (tx: Tx) => Promise<void>;
  /** The route's `expect.checks` the crypto worker ran with the request's own check, with their outcomes. */
  prechecked: Prechecked[];
};

type BodyOf<S> = S extends TSchema ? Static<S> : null;

/**
 * What a route will most likely verify and answer, given its valid body (issue 20): signature checks with the
 * caller's key and the exact text of its success (200) body. Sent to the crypto worker with the request's own
 * verification, and the success answer signed there too, so a submit costs one worker round trip instead of three.
 * A guess that turns out wrong costs nothing but the work: the route checks again, the answer is signed again.
 */
export type Expectation = { checks: FollowUp["checks"]; success: string };

/** The body, parsed and validated, or the error to answer once the caller is authenticated (§4.3 comes first). */
function bodyOf(validate: ReturnType<typeof compileValidator>, raw: Uint8Array): { value: unknown } | ProtocolError {
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return new ProtocolError("INVALID_REQUEST", bodyMessage(parsed.reason), { reason: parsed.reason });
  const v = validate(parsed.value);
  if (!v.ok)
    return new ProtocolError("INVALID_REQUEST", v.message, {
      reason: "schema",
      fields: v.fields,
      errors: v.violations,
    });
  return { value: v.value };
}

type ElysiaCtx = {
  request: Request;
  params?: Record<string, string>;
  server?: { requestIP(r: Request): { address: string } | null } | null;
};

/** The client's address for per-address limits (X-Forwarded-For honoured only from `trustedProxies`). */
export function clientIp(ctx: ElysiaCtx, gw: Pick<Gateway, "trustedProxies">): string {
  const peer = ctx.server?.requestIP(ctx.request)?.address ?? "unknown";
  return clientAddress(peer, ctx.request.headers.get("x-forwarded-for"), gw.trustedProxies);
}

/** §9.1's body rules, in words (the reason codes come from parseJsonObject). */
const BODY_RULES: Record<string, string> = {
  invalid_utf8: "Body must be UTF-8 encoded JSON",
  malformed_json: "Body is not valid JSON",
  not_an_object: "Body must be a JSON object ({…}), not an array or a scalar",
  too_deep: `Body nests deeper than ${MAX_JSON_DEPTH} levels`,
  unpaired_surrogate: "Body contains a string with an unpaired UTF-16 surrogate (\\ud800…)",
};
export const bodyMessage = (reason: string) => BODY_RULES[reason] ?? "Body must be a JSON object";

/** Rejects with 429 + Retry-After when over the limit. */
export function enforceRate(gw: Pick<Gateway, "limiter">, key: string, perMinute: number): void {
  const wait = gw.limiter.take(key, perMinute);
  if (wait !== null) throw new ProtocolError("RATE_LIMITED", undefined, undefined, { "retry-after": String(wait) });
}

/**
 * Elysia route options for a protocol route: no framework body parsing (the wrapper reads the raw bytes) and the
 * very schema the wrapper validates with, recorded for the OpenAPI document so the two cannot drift apart.
 */
export function protocolOptions(schema: TSchema | null, summary: string, doc: Omit<RouteDoc, "summary"> = {}) {
  return {
    parse: "none" as const,
    detail: {
      ...routeDoc({ summary, ...doc }),
      "x-oc-auth": "request-signature",
      ...(schema ? { "x-oc-body": schema } : {}),
    },
  };
}

/**
 * `nonceInTransaction`: the handler records the nonce inside its own transaction (`ctx.recordNonce(tx)`), saving an
 * fsync on the hot submit path. Whatever happens, the nonce ends up recorded before we answer: on any other path the
 * wrapper records it, and a request whose nonce turns out to be taken is answered NONCE_REUSED, as §4.3 would have
 * (a concurrent replay must not see the route's own errors).
 * `expect`: see Expectation (only on the hot submit path).
 */
export function protocolRoute<S extends TSchema | null>(
  gw: Pick<Gateway, "auth" | "clock" | "config" | "limiter" | "log" | "signer" | "trustedProxies">,
  schema: S,
  handler: (ctx: ProtocolContext<BodyOf<S>>) => ProtocolReply | Promise<ProtocolReply>,
  opts: { nonceInTransaction?: boolean; expect?: (body: BodyOf<S>) => Expectation | null } = {},
) {
  const validate = schema ? compileValidator(schema) : null;
  return async (ctx: ElysiaCtx): Promise<Response> => {
    const { request } = ctx;
    // With nonceInTransaction: `pending` until the handler returns. The handler's insert is part of its transaction,
    // so if the handler throws, that insert was rolled back (or never happened) and the wrapper records it here.
    let pending: { ocid: number; nonce: string } | null = null;
    let insertedByHandler = false;
    const insertNonce = async () => {
      if (pending && !(await gw.auth.recordNonce(pending.ocid, pending.nonce, gw.clock())))
        throw new ProtocolError("NONCE_REUSED");
    };
    const recordNonce = async (tx: Tx) => {
      if (pending && !(await gw.auth.recordNonceIn(tx, pending.ocid, pending.nonce, gw.clock())))
        throw new ProtocolError("NONCE_REUSED");
      insertedByHandler = true;
    };
    try {
      enforceRate(gw, `ip:${clientIp(ctx, gw)}`, gw.config.rateLimits.perIp);
      const raw = await readBodyLimited(request, gw.config.maxBodyBytes);
      // Parsed before authentication only to build the expectation; its errors are answered after it, as before.
      const body = validate ? bodyOf(validate, raw) : { value: null };
      const expected = opts.expect && !(body instanceof ProtocolError) ? opts.expect(body.value as never) : null;
      let signedAt = 0;
      const followUp = expected
        ? () => {
            signedAt = gw.signer.clock();
            const digest = responseDigest(gw.signer, signedAt, 200, expected.success);
            return { checks: expected.checks, sign: { digest, sk: gw.signer.secret } };
          }
        : undefined;
      const caller = await authenticate(gw.auth, request.method, wireTarget(request.url), request.headers, raw, {
        deferNonce: opts.nonceInTransaction,
        followUp,
      });
      if (opts.nonceInTransaction) pending = { ocid: caller.ocid, nonce: caller.nonce };
      enforceRate(gw, `ocid:${caller.ocid}`, gw.config.rateLimits.perOcid);
      if (body instanceof ProtocolError) throw body;
      const sig = caller.followedUp?.sig;
      const presigned: Presigned | undefined =
        expected && sig ? { status: 200, text: expected.success, ts: signedAt, sig } : undefined;
      const reply = await handler({
        caller,
        body: body.value as never,
        raw,
        headers: request.headers,
        params: ctx.params ?? {},
        request,
        recordNonce,
        prechecked: (caller.followedUp?.checks ?? []).map((ok, i) => ({ digest: expected!.checks[i]!.digest, ok })),
      });
      if (!insertedByHandler) await insertNonce();
      pending = null;
      return await jsonResponseAsync(
        reply.status ?? 200,
        reply.rawBody !== undefined ? new RawJson(reply.rawBody) : reply.body,
        reply.headers,
        gw.signer,
        presigned,
      );
    } catch (e) {
      if (pending) {
        try {
          await insertNonce();
        } catch (replay) {
          return errorResponse(replay as ProtocolError, gw.signer);
        }
      }
      // Errors are signed inline: a 413 must be written while the client is still streaming its oversize body,
      // before Bun's own request-size limit answers with an empty 413 (a worker round trip loses that race).
      if (e instanceof ProtocolError) return errorResponse(e, gw.signer);
      const requestId = crypto.randomUUID();
      gw.log.error("unhandled error in protocol route", {
        requestId,
        path: new URL(request.url).pathname,
        error: String((e as Error)?.stack ?? e),
      });
      return jsonResponse(
        500,
        { error: { code: "INTERNAL_ERROR", message: "Internal error", details: { requestId } } },
        { "x-request-id": requestId },
        gw.signer,
      );
    }
  };
}
