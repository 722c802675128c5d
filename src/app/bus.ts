// Change signals between gateway nodes (issue 18 item 3). A change says only WHICH user (and which of their payment
// sessions, transfers or credits) changed, never the data: the database stays the truth, and a node that hears of a
// change re-reads what it needs and pushes to the sockets it holds (src/notify/relay.ts). Signals are best-effort by
// design (a node that was not listening misses them), so every subscriber also gets a replay call whenever its feed may
// have had a gap: it then re-reads from the database for everyone it serves, as a WebSocket open already does
// (src/routes/ws.ts). Publish only after the transaction that made the change has committed (the hub does: its pushes
// are post-commit effects, src/settlement/effects.ts). On Postgres a NOTIFY inside the money transaction would also
// serialise every notifying commit on the server's notify lock (measured 0.72x commits/s at 8 concurrent writers).
import { SQL } from "bun";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { randomHex } from "../protocol/hex";

const Id = Type.String({ minLength: 1, maxLength: 200 });
export const Change = Type.Object(
  {
    /** The user whose sockets should hear of it: a node that holds none of them reads nothing. */
    user: Id,
    /** The payment session that changed. */
    session: Type.Optional(Id),
    /** The person-to-person transfer that changed (its sender's update, or an internal recipient's credit). */
    transfer: Type.Optional(Id),
    /** A credit from another gateway (or a top-up), by the proof that booked it: (issuer, txid). */
    credit: Type.Optional(
      Type.Object(
        { issuer: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), txid: Id },
        { additionalProperties: false },
      ),
    ),
    // Neither: all the user should see now (what a WebSocket open replays).
  },
  { additionalProperties: false },
);
export type Change = Static<typeof Change>;

export type Subscriber = {
  /** `local`: made by this node (whose own sockets were pushed to directly, from the committing transaction). */
  onChange: (change: Change, local: boolean) => void;
  /** Changes may have been missed (the bus reconnected): re-read from the database for every local user. */
  onReplay?: () => void;
};

export interface Bus {
  /** False for a bus of one node: the hub then tells nobody and its pushes cost exactly what they did. */
  readonly reachesOtherNodes: boolean;
  /** Call after commit. Resolves once the change is handed to every node's feed (not once it was acted on). */
  publish(change: Change): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(s: Subscriber): () => void;
  close(): Promise<void>;
}

/** One node: subscribers hear changes at once, in the same process. Nothing can be missed, so no replay. */
export class InProcessBus implements Bus {
  readonly reachesOtherNodes = false;
  private readonly subscribers = new Set<Subscriber>();

  async publish(change: Change): Promise<void> {
    for (const s of [...this.subscribers]) s.onChange(change, true);
  }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  async close(): Promise<void> {
    this.subscribers.clear();
  }
}

/** The one channel every node listens on (one per database: nodes of one gateway share it). */
export const BUS_CHANNEL = "oc_changes";

const Wire = Type.Object({ node: Type.String(), change: Change }, { additionalProperties: false });

/**
 * Several nodes on one PostgreSQL: NOTIFY on one shared channel, LISTEN on Bun.SQL's dedicated listen connection.
 * Local subscribers hear this node's own changes at once (not through the server, so a dropped listen connection
 * never delays them); the echo of its own NOTIFY is ignored. When the listen connection drops, Bun reconnects
 * and re-subscribes, and notifications sent in the gap are lost: every reconnect after the first calls onReplay.
 */
export class PostgresBus implements Bus {
  readonly reachesOtherNodes = true;
  readonly node = randomHex(8);
  private readonly subscribers = new Set<Subscriber>();
  private listening: { unlisten(): Promise<void> } | null = null;
  private listens = 0;

  private constructor(
    private readonly sql: SQL,
    private readonly owned: boolean,
  ) {}

  /**
   * `sql`: a client of its own is best (listen holds one connection for good); not behind a transaction pooler.
   * `owned`: close() closes the client too (the gateway's own bus, opened by `openBus`).
   */
  static async start(sql: SQL, owned = false): Promise<PostgresBus> {
    const bus = new PostgresBus(sql, owned);
    bus.listening = await sql.listen(
      BUS_CHANNEL,
      (payload) => bus.heard(payload),
      () => bus.resubscribed(),
    );
    return bus;
  }

  async publish(change: Change): Promise<void> {
    const c = Value.Parse(Change, change);
    this.deliver(c, true);
    await this.sql.notify(BUS_CHANNEL, JSON.stringify({ node: this.node, change: c }));
  }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    await this.listening?.unlisten();
    this.listening = null;
    if (this.owned) await this.sql.close();
  }

  private heard(payload: string): void {
    let wire: unknown;
    try {
      wire = JSON.parse(payload);
    } catch {
      return; // not ours: anyone may NOTIFY on a channel
    }
    if (!Value.Check(Wire, wire) || wire.node === this.node) return;
    this.deliver(wire.change, false);
  }

  private resubscribed(): void {
    if (this.listens++ === 0) return; // the first LISTEN: nothing was missed yet
    for (const s of [...this.subscribers]) s.onReplay?.();
  }

  private deliver(c: Change, local: boolean): void {
    for (const s of [...this.subscribers]) s.onChange(c, local);
  }
}

/**
 * The gateway's bus (`node`: host:port, for the connections' name): on PostgreSQL a LISTEN/NOTIFY bus on a client of
 * its own (two connections: the listen one, held for good, and one for NOTIFY), so a busy store pool never delays a
 * signal; on SQLite (one node per data dir) the in-process bus.
 */
export async function openBus(databaseUrl: string | undefined, node: string): Promise<Bus> {
  if (!databaseUrl) return new InProcessBus();
  // Named for the node (host:port) so an operator sees in pg_stat_activity whose listen connection is whose.
  const sql = new SQL(databaseUrl, { max: 2, connection: { application_name: `oc-bus ${node}`.slice(0, 63) } });
  try {
    return await PostgresBus.start(sql, true);
  } catch (e) {
    await sql.close();
    throw e;
  }
}
