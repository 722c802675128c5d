// §4.6: every call we make to a peer. URL = the peer's registered endpoint + route (never a URL from a body),
// body serialised once and those bytes signed and sent, fresh nonce/timestamp per attempt, response checked.
import { requestCanonical, responseCanonical } from "../protocol/canonical";
import { sha256Hex } from "../protocol/hash";
import { randomHex, utf8 } from "../protocol/hex";
import { verifyString } from "../protocol/signatures";
import { signAs, SPEC_DIALECT, type SignDialect } from "../protocol/dialects";
import { ProtocolError } from "../protocol/errors";
import type { Clock } from "../clock";
import { KEY_ROTATION_AGE, type Directory } from "./directory";
import { checkOutboundUrl, isUnderEndpoint, type Allowlist } from "./ssrf";
import { fetchLimited } from "./fetch-limited";

export const PEER_RESPONSE_MAX_BYTES = 64 * 1024;

export type PeerCallOptions = {
  idempotencyKey?: string;
  timeoutMs: number;
  extraHeaders?: Record<string, string>;
  /** Exact bytes to send instead of serialising `body` (webhook bodies are stored once and re-sent as is). */
  rawBody?: string;
  /** The dialect to sign in, when the caller read it already (saves `dialectFor`'s read of the same row). */
  dialect?: SignDialect;
};

export type PeerResponse = {
  kind: "response";
  status: number;
  headers: Headers;
  body: Uint8Array;
  json: unknown;
  /** null when the peer sent no X-OC-* response headers (allowed), else whether they verified. */
  signatureValid: boolean | null;
  latencyMs: number;
  url: string;
};
/** A call that produced no trustworthy answer: the outcome is unknown to us (§12.4 "ambiguous"). */
export type PeerFailure = { kind: "failure"; reason: string; detail?: string; latencyMs: number; url?: string };
/** The peer cannot be called at all (OCID unknown to the directory, URL refused): definitely nothing moved. */
export type PeerRefused = { kind: "refused"; reason: string };

export type PeerCallResult = PeerResponse | PeerFailure | PeerRefused;

export type PeerClientDeps = {
  ocid: number;
  secret: Uint8Array;
  clock: Clock;
  directory: Directory;
  allowlist: Allowlist;
  window: number;
  fetchImpl?: typeof fetch;
  /** The dialect to sign our requests to a peer in (issue 12); SPEC §3.2's when absent. */
  dialectFor?: (peerOcid: number) => Promise<SignDialect>;
};

export class PeerClient {
  constructor(private readonly d: PeerClientDeps) {}

  async call(
    peerOcid: number,
    method: "GET" | "POST",
    route: string,
    body: unknown,
    opts: PeerCallOptions,
  ): Promise<PeerCallResult> {
    let meta;
    try {
      meta = await this.d.directory.resolve(peerOcid);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === "UNKNOWN_OCID") return { kind: "refused", reason: "unknown_ocid" };
      return { kind: "failure", reason: "metadata_unavailable", latencyMs: 0 };
    }
    const url = meta.endpoint + route;
    if (!isUnderEndpoint(url, meta.endpoint)) return { kind: "refused", reason: "outside_endpoint" };
    const check = await checkOutboundUrl(url, this.d.allowlist);
    if (!check.ok) return { kind: "refused", reason: `outbound_${check.reason}` };

    const bodyText = method === "GET" ? "" : (opts.rawBody ?? (body === undefined ? "" : JSON.stringify(body)));
    const u = new URL(url);
    const dialect = opts.dialect ?? (await this.d.dialectFor?.(peerOcid)) ?? SPEC_DIALECT;
    const headers = this.signedHeaders(method, u.pathname + u.search, bodyText, dialect);
    if (bodyText) headers["content-type"] = "application/json";
    if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
    Object.assign(headers, opts.extraHeaders ?? {});

    const res = await fetchLimited(
      url,
      { method, headers, body: bodyText ? utf8(bodyText) : undefined },
      { timeoutMs: opts.timeoutMs, maxBytes: PEER_RESPONSE_MAX_BYTES, fetchImpl: this.d.fetchImpl },
    );
    if (!res.ok) return { kind: "failure", reason: res.reason, detail: res.detail, latencyMs: res.latencyMs, url };
    let json: unknown;
    try {
      json = res.body.length ? JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(res.body)) : undefined;
    } catch {
      json = undefined;
    }
    let signatureValid = this.checkResponseSignature(peerOcid, meta.publicKey, res.status, res.headers, res.body);
    // §2.4 key rotation: a response signature failing against a cached key older than 60 s earns one refetch.
    if (signatureValid === false && this.d.clock() - meta.fetchedAt > KEY_ROTATION_AGE) {
      const fresh = await this.d.directory.resolve(peerOcid, { bypassCache: true }).catch(() => null);
      if (fresh)
        signatureValid = this.checkResponseSignature(peerOcid, fresh.publicKey, res.status, res.headers, res.body);
    }
    return {
      kind: "response",
      status: res.status,
      headers: res.headers,
      body: res.body,
      json,
      signatureValid,
      latencyMs: res.latencyMs,
      url,
    };
  }

  /** X-OC-* headers for one attempt (§4.6 step 3): new nonce and timestamp every time. */
  signedHeaders(method: string, wirePath: string, bodyText: string, dialect: SignDialect): Record<string, string> {
    const ts = String(this.d.clock());
    const nonce = "req_" + randomHex(16);
    const canonical = requestCanonical({
      ocid: String(this.d.ocid),
      timestamp: ts,
      nonce,
      method,
      path: wirePath,
      bodyHash: sha256Hex(bodyText),
    });
    return {
      accept: "application/json",
      "x-oc-id": String(this.d.ocid),
      "x-oc-timestamp": ts,
      "x-oc-nonce": nonce,
      "x-oc-signature": signAs(canonical, this.d.secret, dialect),
    };
  }

  private checkResponseSignature(
    peerOcid: number,
    key: Uint8Array,
    status: number,
    h: Headers,
    body: Uint8Array,
  ): boolean | null {
    const id = h.get("x-oc-id");
    const ts = h.get("x-oc-timestamp");
    const sig = h.get("x-oc-signature");
    if (id === null || ts === null || sig === null) return null;
    if (id !== String(peerOcid) || !/^[1-9][0-9]{0,10}$/.test(ts)) return false;
    if (Math.abs(this.d.clock() - Number(ts)) > this.d.window) return false;
    return verifyString(responseCanonical(id, ts, status, sha256Hex(body)), sig, key);
  }
}
