// §10.3: live pushes to a user's open sockets through Bun's topic pub/sub (one topic per user). Nothing depends
// on delivery: every message can be rebuilt from the database, and reconnects replay what still awaits the user.
// Every socket remembers the hash of the token it authenticated with: a push first re-checks the receiving user's
// tokens and closes (4401) any socket whose token was revoked, rotated or expired, so such a socket never receives
// another message; `sweep` does the same for every socket on a short interval (a revocation by the CLI in another
// process), `recheck` at once for a revocation made in this process.
// Several nodes (issue 18 item 3): a push also tells the other nodes, through the bus (./bus.ts), which user and which
// of their sessions, transfers or credits changed; a node holding that user's sockets re-reads what they should see and
// delivers it here (src/notify/relay.ts), through the same durability wait and token re-check as a push of its own.
/**
 * Per node: the cap counts the sockets this process holds (the oldest closes past it). Behind a load balancer a
 * user may hold up to this many on every node, N nodes: N x (README, "Per-node state").
 */
export const MAX_SOCKETS_PER_USER = 5;
/**
 * How often every open socket's token is re-checked (revocations made by another process or node, token expiry):
 * each node sweeps the sockets it holds, so a revocation on one node closes the sockets on the others within this.
 */
export const TOKEN_SWEEP_MS = 500;

export type HubSocket = {
  id: string;
  send(data: string): unknown;
  close(code?: number, reason?: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
};

import type { WsPaymentRequest, WsPaymentUpdate, WsServerMessage } from "./schemas";
import type { Bus, Change } from "./bus";
import { durable } from "../store/durability";

export type PaymentUpdate = WsPaymentUpdate;
export type PaymentRequest = WsPaymentRequest;
export type ServerMessage = WsServerMessage;

/** Which of these token hashes are still valid now (not revoked, not expired): a read of the store. */
export type TokenCheck = (tokenHashes: string[]) => Promise<Set<string>>;

const topic = (userId: string) => `user:${userId}`;

/**
 * What another node re-reads for a push (src/notify/user-feed.ts): the session a prompt or an update is about, the
 * transfer an update is about. A message that names neither (a credit) needs its change given with it.
 */
function changeOf(userId: string, msg: ServerMessage): Change | null {
  if (msg.type === "payment_request" || msg.type === "payment_update") return { user: userId, session: msg.sessionId };
  if (msg.type === "transfer_update") return { user: userId, transfer: msg.transfer.id };
  return null; // a credit: its change comes with it (`about`)
}

export class Hub {
  private publisher: ((topic: string, data: string) => unknown) | null = null;
  private bus: Bus | null = null;
  private busFailed: (e: unknown) => void = () => {};
  private sockets = new Map<string, HubSocket[]>();
  /** user id → the last push still on its way to that user's sockets (pushes to one user leave in order). */
  private pushing = new Map<string, Promise<void>>();
  /** socket id → the SHA-256 of the token it authenticated with. */
  private tokenOf = new Map<string, string>();
  constructor(private readonly tokensValid: TokenCheck = async (h) => new Set(h)) {}

  /** Bound once the server runs (server.publish), with the bus that tells the other nodes (none: this node only). */
  attach(publish: (topic: string, data: string) => unknown, bus?: Bus, busFailed?: (e: unknown) => void): void {
    this.publisher = publish;
    this.bus = bus ?? null;
    if (busFailed) this.busFailed = busFailed;
  }

  add(userId: string, ws: HubSocket, tokenHash: string): void {
    const list = this.sockets.get(userId) ?? [];
    list.push(ws);
    this.tokenOf.set(ws.id, tokenHash);
    this.sockets.set(userId, list);
    ws.subscribe(topic(userId));
    while (list.length > MAX_SOCKETS_PER_USER) {
      const oldest = list.shift()!;
      this.tokenOf.delete(oldest.id);
      oldest.unsubscribe(topic(userId));
      oldest.close(4000, "too many sockets");
    }
  }

  remove(userId: string, ws: HubSocket): void {
    const list = this.sockets.get(userId);
    if (!list) return;
    const i = list.findIndex((s) => s.id === ws.id);
    if (i >= 0) list.splice(i, 1);
    this.tokenOf.delete(ws.id);
    if (list.length === 0) this.sockets.delete(userId);
  }

  socketCount(userId: string): number {
    return this.sockets.get(userId)?.length ?? 0;
  }

  openSockets(): number {
    let n = 0;
    for (const l of this.sockets.values()) n += l.length;
    return n;
  }

  /**
   * Lets callers skip building a message nobody on this node would receive (rebuilt from the database on connect
   * anyway); a caller that skips it tells the other nodes with `tellOthers`.
   */
  isOnline(userId: string | null | undefined): boolean {
    return !!userId && this.sockets.has(userId);
  }

  /** The users with a socket on this node (a bus replay re-reads for each). */
  onlineUsers(): string[] {
    return [...this.sockets.keys()];
  }

  /**
   * Call only after the transaction that caused it has committed (§9.1). The push leaves once that commit is
   * durable (group commit, src/store/durability.ts); the token re-check runs then, right before publishing.
   * Other nodes hear which session or transfer changed (`about`, else what `msg` names) and push what they read of
   * it to the sockets they hold.
   */
  send(userId: string | null | undefined, msg: ServerMessage, about?: Omit<Change, "user">): void {
    if (!userId) return;
    this.deliver(userId, [msg]);
    const change = !this.bus?.reachesOtherNodes ? null : about ? { ...about, user: userId } : changeOf(userId, msg);
    if (change) this.tellOthers(change);
  }

  /** After a commit whose message this node did not build (no socket here): only the other nodes hear of it. */
  tellOthers(change: Change): void {
    const bus = this.bus;
    if (!bus?.reachesOtherNodes) return; // one node (SQLite): nobody else to tell, and nothing on the hot path
    durable()
      .then(() => bus.publish(change))
      .catch((e) => this.busFailed(e)); // the user gets it from the database on reconnect (or the bus's replay)
  }

  /**
   * Pushes to this node's sockets of the user only, once durable and after the token re-check, in the order given:
   * each push to a user waits for the one before it (on PostgreSQL two re-checks on the pool can finish in either
   * order, and a `confirmed` must not overtake its `paid`).
   */
  deliver(userId: string, msgs: readonly ServerMessage[]): void {
    if (!this.publisher || msgs.length === 0 || !this.sockets.has(userId)) return;
    const texts = msgs.map((m) => JSON.stringify(m));
    const committed = durable(); // the commits made so far: taken now, not when the previous push is out
    const before = this.pushing.get(userId);
    const pushed = (before ? before.then(() => committed) : committed)
      .then(() => this.recheck(userId))
      .then(
        (open) => {
          if (open > 0) for (const text of texts) this.publisher!(topic(userId), text);
        },
        () => {}, // not durable (or unreadable): nothing is pushed; the user gets it from the database on reconnect
      )
      .finally(() => {
        if (this.pushing.get(userId) === pushed) this.pushing.delete(userId);
      });
    this.pushing.set(userId, pushed);
  }

  /** Closes this user's sockets whose token is no longer valid; returns how many remain open. */
  async recheck(userId: string): Promise<number> {
    const list = this.sockets.get(userId);
    if (!list) return 0;
    const checked = list.map((ws) => [ws, this.tokenOf.get(ws.id) ?? ""] as const);
    const valid = await this.tokensValid([...new Set(checked.map(([, h]) => h))]);
    // Sockets added (or gone) while the check ran are not this check's: only those checked and still open close.
    for (const [ws, h] of checked) if (!valid.has(h) && this.tokenOf.get(ws.id) === h) this.revoke(userId, ws);
    return this.socketCount(userId);
  }

  /** Every open socket's token, checked in batches; returns how many sockets were closed. */
  async sweep(batch = 500): Promise<number> {
    const entries: [string, HubSocket, string][] = [];
    for (const [userId, list] of this.sockets)
      for (const ws of list) entries.push([userId, ws, this.tokenOf.get(ws.id) ?? ""]);
    let closed = 0;
    for (let i = 0; i < entries.length; i += batch) {
      const chunk = entries.slice(i, i + batch);
      const valid = await this.tokensValid([...new Set(chunk.map(([, , h]) => h))]);
      for (const [userId, ws, h] of chunk) {
        // A socket closed (or revoked) while the check ran is not this sweep's to close again.
        if (valid.has(h) || this.tokenOf.get(ws.id) !== h) continue;
        this.revoke(userId, ws);
        closed++;
      }
    }
    return closed;
  }

  private revoke(userId: string, ws: HubSocket): void {
    // Unsubscribed first: a publish racing the close can no longer reach this socket.
    ws.unsubscribe(topic(userId));
    this.remove(userId, ws);
    try {
      ws.send(JSON.stringify({ type: "error", code: "INVALID_TOKEN", message: "Token revoked or expired" }));
      ws.close(4401, "unauthorized");
    } catch {
      // already closing: nothing more to stop
    }
  }
}
