// §2.2–§2.4: OCID → verified peer metadata. Local table first, then the optional EVM resolver; cached with
// stale-if-error, concurrent lookups coalesced, every URL checked by the outbound rules before it is fetched.
import { ProtocolError } from "../protocol/errors";
import { metadataUrlFor, normaliseMetadata } from "../protocol/peer-metadata";
import type { VerifiedDialect } from "../protocol/signed-objects";
import type { PeerMetadata } from "../protocol/schemas";
import { parsePublicKey } from "../protocol/keys";
import type { Logger } from "../log";
import type { Clock } from "../clock";
import { checkOutboundUrl, type Allowlist } from "./ssrf";
import { resolveTokenUri } from "./evm-resolver";
import { fetchLimited } from "./fetch-limited";
import type { DirectoryEntry, CachedMetadata } from "../store/directory";
import type { Store, Tx } from "../store";

export type { DirectoryEntry };

export const METADATA_TIMEOUT_MS = 5000;
/**
 * One deadline for a whole metadata resolution: registry lookup, every redirect hop and the document. Per-hop
 * timeouts alone let three slow redirects hold a signed request (and everyone waiting on that peer) for 18 s.
 */
export const METADATA_DEADLINE_MS = 5000;
export const METADATA_MAX_BYTES = 64 * 1024;
const MAX_REDIRECTS = 3;
const STALE_MAX = 3600;
const UNKNOWN_TTL = 60;
/** Unknown OCIDs remembered at most (each ~120 B): expired entries go first, then the oldest. */
export const MAX_UNKNOWN_OCIDS = 10_000;
/** §2.4 key rotation: a cached key older than this is refetched once before a signature is rejected. */
export const KEY_ROTATION_AGE = 60;

export type DirectoryOptions = {
  /** The persisted directory and metadata cache (src/store/directory.ts), through the store port. */
  store: Pick<Store, "read" | "transaction">;
  clock: Clock;
  log: Logger;
  allowlist: Allowlist;
  self: PeerMetadata;
  configEntries: Record<string, string>;
  freshTtl: number;
  acceptReplacer: boolean;
  evm?: { rpcUrl: string; registryAddress: string };
  fetchImpl?: typeof fetch;
  /** Told how a freshly fetched config signature verified (issue 12: the peer's dialect, recorded). */
  onConfigDialect?: (ocid: number, d: VerifiedDialect) => void;
  /** OCIDs this gateway itself publishes (its users' end-user OCIDs): answered locally, never fetched. */
  local?: (tx: Tx, ocid: number) => Promise<PeerMetadata | null>;
};

type Lookup = { kind: "value"; value: string } | { kind: "unknown" } | { kind: "unavailable"; reason: string };

export class Directory {
  // Per node (README "Per-node state"): the in-memory copy is only a faster view of the persisted cache, which
  // every resolution checks (cachedAt), so a fetch, a removal or a re-pointing on one node holds on all at once.
  // Only the unknown-OCID memo (UNKNOWN_TTL) is this node's alone: another node may look the OCID up again.
  private cache = new Map<number, PeerMetadata>();
  private unknownUntil = new Map<number, number>();
  private inflight = new Map<number, Promise<PeerMetadata>>();
  // Copies this process persisted, numbered in commit order. A read that began before such a save can end after it
  // (on PostgreSQL reads run side by side on the pool): its persisted view is older than the copy, not a removal.
  private saves = 0;
  private savedAs = new WeakMap<PeerMetadata, number>();

  constructor(private readonly o: DirectoryOptions) {}

  // ----- operator surface (the CLI calls these; `tx`: the caller's open transaction, with its audit row) -----
  async add(ocid: number, value: string, tx?: Tx): Promise<void> {
    if (!Number.isSafeInteger(ocid) || ocid < 1) throw new Error("OCID must be a positive integer");
    if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
      throw new Error("value must be an http(s) URL");
    await this.write(tx, async (t) => {
      await t.directory.put(ocid, value, "operator", this.o.clock());
      await this.forget(ocid, t);
    });
  }
  async remove(ocid: number, tx?: Tx): Promise<boolean> {
    return this.write(tx, async (t) => {
      await this.forget(ocid, t);
      return t.directory.remove(ocid);
    });
  }
  async list(tx?: Tx): Promise<DirectoryEntry[]> {
    const rows = tx ? await tx.directory.entries() : await this.o.store.read((t) => t.directory.entries());
    const known = new Set(rows.map((r) => r.ocid));
    for (const [k, v] of Object.entries(this.o.configEntries))
      if (!known.has(Number(k))) rows.push({ ocid: Number(k), value: v, source: "config", addedAt: 0 });
    return rows.sort((a, b) => a.ocid - b.ocid);
  }
  /** Drops what we know of `ocid`, the persisted copy included (else a removed or re-pointed entry lives on). */
  async forget(ocid: number, tx?: Tx): Promise<void> {
    this.cache.delete(ocid);
    this.unknownUntil.delete(ocid);
    await this.write(tx, (t) => t.directory.dropCached(ocid));
  }

  private write<T>(tx: Tx | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? fn(tx) : this.o.store.transaction(fn);
  }

  /** Cached metadata without any I/O (for display), if we have any (our users' OCIDs once resolved). */
  peek(ocid: number): PeerMetadata | undefined {
    if (ocid === this.o.self.ocid) return this.o.self;
    return this.cache.get(ocid);
  }

  /** Throws ProtocolError UNKNOWN_OCID or METADATA_UNAVAILABLE (§2.2 outcomes). */
  async resolve(ocid: number, opts: { bypassCache?: boolean } = {}): Promise<PeerMetadata> {
    if (ocid === this.o.self.ocid) return this.o.self;
    // One read per resolution: whether the OCID is one of our users', and the persisted copy's age (and the copy
    // itself when this process has none in memory).
    const readFrom = this.saves;
    const seen = await this.o.store.read(async (tx) => ({
      local: (await this.o.local?.(tx, ocid)) ?? null,
      cachedAt: await tx.directory.cachedAt(ocid),
      row: this.cache.has(ocid) ? null : await tx.directory.cached(ocid),
    }));
    if (seen.local) return seen.local;
    const now = this.o.clock();
    if (!opts.bypassCache) {
      const cached = this.cached(ocid, seen.row);
      // The persisted copy is the source of truth across processes: `oc directory remove|add` in another process
      // deletes it, and a running server must stop trusting the old key at once, not after the TTL.
      const newerThanRead = cached !== undefined && (this.savedAs.get(cached) ?? 0) > readFrom;
      if (cached && seen.cachedAt !== cached.fetchedAt && !newerThanRead) this.cache.delete(ocid);
      else if (cached && now - cached.fetchedAt < this.o.freshTtl) return cached;
      const unknownUntil = this.unknownUntil.get(ocid);
      if (unknownUntil !== undefined && unknownUntil > now) throw new ProtocolError("UNKNOWN_OCID");
    }
    let p = this.inflight.get(ocid);
    if (p && !opts.bypassCache) {
      // Someone is already waiting on a (possibly slow) fetch of this peer: a usable stale copy answers at once
      // instead of queueing every caller behind it.
      const stale = this.cached(ocid, seen.row);
      if (stale && now - stale.fetchedAt <= STALE_MAX && seen.cachedAt === stale.fetchedAt) return stale;
    }
    if (!p) {
      p = this.refresh(ocid, performance.now() + METADATA_DEADLINE_MS).finally(() => this.inflight.delete(ocid));
      this.inflight.set(ocid, p);
    }
    return p;
  }

  /** The in-memory copy, else the persisted `row` (read by the caller) parsed into it. */
  private cached(ocid: number, row: CachedMetadata | null): PeerMetadata | undefined {
    let m = this.cache.get(ocid);
    if (!m) {
      if (row) {
        const r = normaliseMetadata(JSON.parse(row.document), ocid, {
          acceptReplacer: this.o.acceptReplacer,
          httpAllowed: (h) => this.o.allowlist.matches(h),
          fetchedAt: row.fetchedAt,
        });
        if (r.ok) this.cache.set(ocid, (m = r.meta));
      }
    }
    return m;
  }

  /** `deadline`: performance.now() by which the whole resolution (lookup, redirects, document) must end. */
  private async refresh(ocid: number, deadline: number): Promise<PeerMetadata> {
    const now = this.o.clock();
    const { row, value } = await this.o.store.read(async (tx) => ({
      row: this.cache.has(ocid) ? null : await tx.directory.cached(ocid),
      value: await tx.directory.value(ocid),
    }));
    const stale = this.cached(ocid, row);
    const staleOk = () => stale && now - stale.fetchedAt <= STALE_MAX;
    const lookup = await this.lookup(ocid, value, deadline);
    if (lookup.kind === "unknown") {
      this.cache.delete(ocid);
      this.rememberUnknown(ocid, now);
      throw new ProtocolError("UNKNOWN_OCID");
    }
    if (lookup.kind === "unavailable") {
      if (staleOk()) return stale!;
      throw new ProtocolError("METADATA_UNAVAILABLE", undefined, { reason: lookup.reason });
    }
    const fetched = await this.fetchDocument(metadataUrlFor(lookup.value), deadline);
    if (!fetched.ok) {
      this.o.log.warn("metadata unavailable", { ocid, reason: fetched.reason });
      if (staleOk()) return stale!;
      throw new ProtocolError("METADATA_UNAVAILABLE", undefined, { reason: fetched.reason });
    }
    const r = normaliseMetadata(fetched.doc, ocid, {
      acceptReplacer: this.o.acceptReplacer,
      httpAllowed: (h) => this.o.allowlist.matches(h),
      fetchedAt: now,
    });
    if (!r.ok) {
      this.o.log.warn("metadata invalid", { ocid, reason: r.reason });
      if (staleOk()) return stale!;
      throw new ProtocolError("METADATA_UNAVAILABLE", undefined, { reason: r.reason });
    }
    if (stale && !sameKey(stale, r.meta)) this.o.log.info("peer key changed", { ocid });
    if (r.dialect) this.o.onConfigDialect?.(ocid, r.dialect);
    // Persisted first: a copy in memory always matches the persisted one (the check above relies on it).
    const document = JSON.stringify(fetched.doc);
    await this.o.store.transaction((tx) => tx.directory.saveCached(ocid, document, now));
    this.savedAs.set(r.meta, ++this.saves);
    this.cache.set(ocid, r.meta);
    this.unknownUntil.delete(ocid);
    return r.meta;
  }

  /** Bounded by eviction (insertion order = expiry order, every entry living UNKNOWN_TTL), never unbounded. */
  private rememberUnknown(ocid: number, now: number): void {
    this.unknownUntil.delete(ocid);
    for (const [k, until] of this.unknownUntil) {
      if (this.unknownUntil.size < MAX_UNKNOWN_OCIDS && until > now) break;
      this.unknownUntil.delete(k);
    }
    this.unknownUntil.set(ocid, now + UNKNOWN_TTL);
  }

  get unknownCached(): number {
    return this.unknownUntil.size;
  }

  /** `value`: the operator's directory entry for `ocid`, read by the caller. */
  private async lookup(ocid: number, value: string | null, deadline: number): Promise<Lookup> {
    if (value !== null) return { kind: "value", value };
    const fromConfig = this.o.configEntries[String(ocid)];
    if (fromConfig) return { kind: "value", value: fromConfig };
    if (!this.o.evm) return { kind: "unknown" };
    const timeoutMs = Math.max(1, Math.min(METADATA_TIMEOUT_MS, Math.round(deadline - performance.now())));
    const r = await resolveTokenUri({ ...this.o.evm, ocid, timeoutMs, fetchImpl: this.o.fetchImpl });
    if (r.kind === "found")
      return URL.canParse(r.value)
        ? { kind: "value", value: r.value }
        : { kind: "unavailable", reason: "token_uri_not_a_url" };
    return r.kind === "unknown" ? { kind: "unknown" } : { kind: "unavailable", reason: r.reason };
  }

  private async fetchDocument(
    url: string,
    deadline: number,
  ): Promise<{ ok: true; doc: unknown } | { ok: false; reason: string }> {
    let target = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const check = await checkOutboundUrl(target, this.o.allowlist);
      if (!check.ok) return { ok: false, reason: `outbound_${check.reason}` };
      const left = Math.round(deadline - performance.now());
      if (left <= 0) return { ok: false, reason: "timeout" };
      const res = await fetchLimited(
        target,
        { method: "GET", headers: { accept: "application/json" } },
        { timeoutMs: Math.min(METADATA_TIMEOUT_MS, left), maxBytes: METADATA_MAX_BYTES, fetchImpl: this.o.fetchImpl },
      );
      if (!res.ok) return { ok: false, reason: res.reason };
      if (res.status >= 300 && res.status < 400) {
        const loc = res.headers.get("location");
        if (!loc || !URL.canParse(loc, target)) return { ok: false, reason: "bad_redirect" };
        target = new URL(loc, target).toString();
        continue;
      }
      if (res.status !== 200) return { ok: false, reason: `http_${res.status}` };
      try {
        return { ok: true, doc: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(res.body)) };
      } catch {
        return { ok: false, reason: "not_json" };
      }
    }
    return { ok: false, reason: "too_many_redirects" };
  }
}

function sameKey(a: PeerMetadata, b: PeerMetadata): boolean {
  return a.publicKey.length === b.publicKey.length && a.publicKey.every((x, i) => x === b.publicKey[i]);
}

/** Our own metadata as a PeerMetadata (never resolved over the network, §2.2). */
export function selfMetadata(
  ocid: number,
  name: string,
  publicKeyHex: string,
  endpoint: string,
  currencies: string[],
  accepts: number[],
): PeerMetadata {
  const key = parsePublicKey(publicKeyHex);
  if (!key.ok) throw new Error("own public key invalid");
  return {
    ocid,
    name,
    publicKey: key.point,
    endpoint,
    capabilities: [],
    settlement: { currencies, accepts },
    fetchedAt: Number.MAX_SAFE_INTEGER / 2,
  };
}
