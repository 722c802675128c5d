// The load generator of the multi-node test: every payment crosses the nodes the way a load balancer spreads one
// user's requests: the session is created on one node (POST /app/pay), the merchant submits it to another, and the
// user, whose app holds a WebSocket to every node, waits for the prompt on a third and confirms over that socket.
// A request to a node that is down goes to the next one (what the balancer does); a socket whose node died
// reconnects (to its node when it is back, else to the next) and gets what still awaits the user by replay.
import { makeOrder } from "../peers/kit";
import { appAt } from "../helpers/wallet";
import type { ProcessGateway } from "../helpers/gateway-process";
import type { Cluster, ClusterUser } from "./cluster";
import { prng } from "../reliability/support";

export type Strategy = "direct" | "partner" | "third_party" | "refused" | "fallback";
/** Who the order accepts: us (direct), the partner (reserve), the merchant gateway (third party), both. */
export const ACCEPTS: Record<Strategy, number[]> = {
  direct: [200],
  partner: [101],
  third_party: [102],
  refused: [101],
  fallback: [101, 102],
};
const STRATEGIES: Strategy[] = ["direct", "direct", "partner", "third_party", "refused", "fallback"];

/**
 * How the prompt reached the confirming socket: pushed while it was connected; replayed when it reconnected after
 * its node died; replayed after the app, having waited in vain, reconnected by itself (a push is best effort: a node
 * killed between its commit and its NOTIFY tells no one); or not at all.
 */
export type PromptVia = "live" | "replay" | "refreshed" | "missing";

export type Placed = {
  user: number;
  sessionId: string;
  orderId: string;
  amount: string;
  strategy: Strategy;
  /** node indexes: session created on, order submitted to, prompt awaited and confirm sent on */
  nodes: [number, number, number];
  prompt: PromptVia;
  confirmAnswer: string;
};

/** How long the app waits for a prompt before it reconnects (the user pulling to refresh), then how long after. */
const PROMPT_WAIT_MS = 5_000;
const AFTER_REFRESH_MS = 10_000;
const RETRY_FOR_MS = 30_000;
const RECONNECT_MS = 50;

/** Tries node `first`, then the others in turn, until one answers (any HTTP status is an answer). */
async function balanced<T>(nodes: ProcessGateway[], first: number, fn: (base: string) => Promise<T>): Promise<T> {
  const end = Date.now() + RETRY_FOR_MS;
  for (let i = first; ; i++) {
    const node = nodes[i % nodes.length]!;
    try {
      return await fn(node.url);
    } catch (e) {
      if (Date.now() > end) throw new Error(`no node answered for ${RETRY_FOR_MS / 1000} s: ${String(e)}`);
      await Bun.sleep(10);
    }
  }
}

type Answer = { type: string; status?: string; code?: string; details?: { status?: string } };

/** One of a user's sockets, meant for node `slot`: reconnects until closed, records every prompt it gets. */
class UserSocket {
  private ws: WebSocket | null = null;
  private closed = false;
  /** performance.now() of the current connection's `ready`; prompts before a later ready are replays */
  private readyAt = Infinity;
  /** session id → the `ready` time of the connection its prompt came on */
  private readonly prompts = new Map<string, number>();
  private readonly promptWaiters = new Map<string, () => void>();
  private readonly answers = new Map<string, (a: Answer | null) => void>();
  private refs = 0;
  connections = 0;

  constructor(
    private readonly nodes: ProcessGateway[],
    private readonly slot: number,
    private readonly token: string,
  ) {}

  /** Connected and signed in (resolves once; reconnects happen in the background). */
  open(): Promise<void> {
    return new Promise((resolve) => this.connect(this.slot, resolve));
  }

  private connect(index: number, onReady?: () => void): void {
    if (this.closed) return;
    const node = this.nodes[index % this.nodes.length]!;
    const ws = new WebSocket(node.url.replace("http", "ws") + "/app/ws");
    this.ws = ws;
    let signedIn = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: this.token }));
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data));
      if (m.type === "ready" && !signedIn) {
        signedIn = true;
        this.readyAt = performance.now();
        this.connections++;
        onReady?.();
      } else if (m.type === "payment_request" && !this.prompts.has(m.sessionId)) {
        this.prompts.set(m.sessionId, this.readyAt);
        this.promptWaiters.get(m.sessionId)?.();
      } else if ((m.type === "result" || m.type === "error") && typeof m.ref === "string") {
        this.answers.get(m.ref)?.(m);
        this.answers.delete(m.ref);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.readyAt = Infinity;
      for (const a of this.answers.values()) a(null); // unanswered: the caller asks again on the next connection
      this.answers.clear();
      if (this.closed) return;
      // Back to its own node when it is up again, else the next one (a balancer's retry).
      const next = this.nodes[this.slot]!.running ? this.slot : index + 1;
      setTimeout(() => this.connect(next, onReady), RECONNECT_MS);
    };
  }

  /** Waits for the session's prompt: "live" when it came on a connection signed in before the submit was sent. */
  async prompt(sessionId: string, sentAt: number): Promise<PromptVia> {
    if (!(await this.arrival(sessionId, PROMPT_WAIT_MS))) {
      this.ws?.close(); // reconnects at once, and the open replays what awaits the user
      return (await this.arrival(sessionId, AFTER_REFRESH_MS)) ? "refreshed" : "missing";
    }
    return this.prompts.get(sessionId)! <= sentAt ? "live" : "replay";
  }

  private async arrival(sessionId: string, withinMs: number): Promise<boolean> {
    if (this.prompts.has(sessionId)) return true;
    const arrived = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), withinMs);
      this.promptWaiters.set(sessionId, () => (clearTimeout(t), resolve(true)));
    });
    this.promptWaiters.delete(sessionId);
    return arrived;
  }

  /** Confirms over this socket, asking again on the next connection when the socket dies before the answer. */
  async confirm(sessionId: string): Promise<Answer> {
    const end = Date.now() + RETRY_FOR_MS;
    for (;;) {
      const ws = this.ws;
      if (ws && ws.readyState === WebSocket.OPEN && this.readyAt !== Infinity) {
        const ref = `c${++this.refs}`;
        const answer = new Promise<Answer | null>((resolve) => this.answers.set(ref, resolve));
        ws.send(JSON.stringify({ type: "confirm", sessionId, ref }));
        const a = await answer;
        if (a) return a;
      }
      if (Date.now() > end) throw new Error(`confirm ${sessionId}: no connected socket for ${RETRY_FOR_MS / 1000} s`);
      await Bun.sleep(RECONNECT_MS);
    }
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }
}

export type Traffic = Awaited<ReturnType<typeof startTraffic>>;

/** One worker per user, each placing payments one after the other until `stop()`; choices seeded per worker. */
export async function startTraffic(cluster: Cluster, seed: number) {
  const { nodes, peers } = cluster;
  const n = nodes.length;
  const sockets = cluster.users.map((u: ClusterUser) => nodes.map((_, slot) => new UserSocket(nodes, slot, u.token)));
  await Promise.all(sockets.flat().map((s) => s.open()));
  const placed: Placed[] = [];
  const unexpected: string[] = [];
  let stopped = false;

  async function onePayment(w: number, rnd: ReturnType<typeof prng>, k: number): Promise<void> {
    const user = cluster.users[w]!;
    const strategy = rnd.pick(STRATEGIES);
    const created = rnd.int(0, n - 1);
    const submitted = (created + 1 + rnd.int(0, n - 2)) % n;
    const confirmedOn = [...Array(n).keys()].find((i) => i !== created && i !== submitted) ?? created;
    const prefix = strategy === "refused" || strategy === "fallback" ? "refuse_" : "ord_";
    const orderId = `${prefix}${seed}_${w}_${k}_${rnd.int(0, 1e9).toString(36)}`;
    const amount = `${rnd.int(1, 20)}.${String(rnd.int(0, 99)).padStart(2, "0")}`;
    const order = makeOrder(500, { id: orderId, amount, accepts: ACCEPTS[strategy] });
    const signature = peers.merchant.signOrder(order);

    const pay = await balanced(nodes, created, (base) => appAt(base, user.token, "POST", "/app/pay", {}));
    if (pay.status !== 200) return void unexpected.push(`pay → ${pay.status} ${pay.text}`);
    const sessionId = pay.json.sessionId as string;
    const sentAt = performance.now();
    const sub = await balanced(nodes, submitted, (base) =>
      peers.merchant.call(base, "POST", `/opencharge/orders/create/${sessionId}`, { order, signature, urls: {} }),
    );
    // 410 after a retry: the first attempt committed on a node that died before answering.
    if (sub.status !== 200 && !(sub.status === 410 && sub.json?.error?.code === "SESSION_USED"))
      return void unexpected.push(`submit → ${sub.status} ${sub.text}`);
    const socket = sockets[w]![confirmedOn]!;
    const via = await socket.prompt(sessionId, sentAt);
    const p: Placed = {
      user: w,
      sessionId,
      orderId,
      amount,
      strategy,
      nodes: [created, submitted, confirmedOn],
      prompt: via,
      confirmAnswer: "not confirmed",
    };
    placed.push(p);
    if (via === "missing" || rnd.chance(0.1)) return; // some are left to expire, unanswered
    const a = await socket.confirm(sessionId);
    if (a.type === "result") p.confirmAnswer = a.status ?? "?";
    else if (["paid", "failed", "confirmed"].includes(a.details?.status ?? ""))
      p.confirmAnswer = `answered before: ${a.details!.status}`; // a retry after the first confirm committed
    else unexpected.push(`confirm ${orderId} → ${JSON.stringify(a)}`);
  }

  const workers = cluster.users.map(async (_, w) => {
    const rnd = prng(seed + w * 7919);
    for (let k = 0; !stopped; k++) await onePayment(w, rnd, k);
  });
  return {
    placed,
    unexpected,
    sockets,
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(workers);
      for (const s of sockets.flat()) s.close();
    },
  };
}
