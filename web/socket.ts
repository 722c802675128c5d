// WebSocket /app/ws client (SPEC §10.3): auth as the first message (never in the URL), ping every 25 s,
// reconnect with exponential backoff 1 s doubling to 30 s with ±20 % jitter.

import type { ServerMessage } from "./api";
export type { ServerMessage };
export type ConnState = "connecting" | "online" | "offline";

export const PING_INTERVAL_MS = 25_000;
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;
export const BACKOFF_JITTER = 0.2;

/** Delay before reconnect attempt `attempt` (0 = first retry); `rand` in [0, 1). */
export function backoffDelay(attempt: number, rand: number = Math.random()): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * rand));
}

export type SocketHandlers = {
  message(m: ServerMessage): void;
  state(s: ConnState): void;
  /** The server refused the token (close 4401): stop, the user must sign in again. */
  unauthorized(): void;
};

export class WalletSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly on: SocketHandlers,
    private readonly pingMs: number = PING_INTERVAL_MS,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "bye");
    this.on.state("offline");
  }

  /** Reconnect now (e.g. the browser came back online), resetting the backoff. */
  nudge(): void {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  send(msg: Record<string, unknown>): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  private connect(): void {
    if (this.stopped) return;
    this.on.state("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      return this.scheduleRetry();
    }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: this.token }));
    ws.onmessage = (ev) => {
      let m: ServerMessage;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (!m || typeof m.type !== "string") return;
      if (m.type === "ready") {
        this.attempt = 0;
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: "ping", ts: Date.now() }), this.pingMs);
        this.on.state("online");
      }
      this.on.message(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (ev.code === 4401) {
        this.stopped = true;
        this.on.state("offline");
        return this.on.unauthorized();
      }
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    this.on.state("offline");
    const delay = backoffDelay(this.attempt++);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
