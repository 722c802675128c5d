// §10.3: live pushes to a user's open sockets through Bun's topic pub/sub (one topic per user). Nothing depends
// on delivery: every message can be rebuilt from the database, and reconnects replay what still awaits the user.
export const MAX_SOCKETS_PER_USER = 5;

export type HubSocket = {
  id: string;
  send(data: string): unknown;
  close(code?: number, reason?: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
};

export type PaymentUpdate = { type: "payment_update"; sessionId: string; status: string; txid?: string };
export type PaymentRequest = {
  type: "payment_request";
  sessionId: string;
  merchant: { ocid: number; name?: string };
  order: unknown;
  expiresAt: number;
};
export type ServerMessage = PaymentUpdate | PaymentRequest | { type: string; [k: string]: unknown };

const topic = (userId: string) => `user:${userId}`;

export class Hub {
  private publisher: ((topic: string, data: string) => unknown) | null = null;
  private sockets = new Map<string, HubSocket[]>();
  /** Bound once the server runs (server.publish). */
  attach(publish: (topic: string, data: string) => unknown): void {
    this.publisher = publish;
  }

  add(userId: string, ws: HubSocket): void {
    const list = this.sockets.get(userId) ?? [];
    list.push(ws);
    this.sockets.set(userId, list);
    ws.subscribe(topic(userId));
    while (list.length > MAX_SOCKETS_PER_USER) {
      const oldest = list.shift()!;
      oldest.unsubscribe(topic(userId));
      oldest.close(4000, "too many sockets");
    }
  }

  remove(userId: string, ws: HubSocket): void {
    const list = this.sockets.get(userId);
    if (!list) return;
    const i = list.findIndex((s) => s.id === ws.id);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.sockets.delete(userId);
  }

  socketCount(userId: string): number {
    return this.sockets.get(userId)?.length ?? 0;
  }

  /** Lets callers skip building a message nobody would receive (rebuilt from the database on connect anyway). */
  isOnline(userId: string | null | undefined): boolean {
    return !!userId && this.sockets.has(userId);
  }

  /** Call only after the transaction that caused it has committed (§9.1). */
  send(userId: string | null | undefined, msg: ServerMessage): void {
    if (!userId || !this.publisher || !this.sockets.has(userId)) return;
    this.publisher(topic(userId), JSON.stringify(msg));
  }
}
