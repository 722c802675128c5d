// §10.3 WebSocket /app/ws: authenticate (header on upgrade, or a first `auth` message within 10 s), then replay
// everything still awaiting the user and push live updates through the hub. Confirm/decline share the HTTP flows.
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import { authIn, userFromAuthorization } from "../app/bearer";
import { confirmPayment, declinePayment } from "../flows/answer-payment";
import { awaitingPrompts } from "../notify/user-feed";
import type { User } from "../store/users";
import { sha256Hex } from "../protocol/hash";
import { durable } from "../store/durability";

export const WS_AUTH_DEADLINE_MS = 10_000;
export const WS_MAX_FRAME = 4096;
export const WS_IDLE_SECONDS = 60;
/** A socket whose unsent data passes this is closed: a slow client cannot grow our memory. */
export const WS_BACKPRESSURE_LIMIT = 256 * 1024;

/**
 * `tokenHash` (never the token) is kept so every message re-checks that the token is still valid; pushes are
 * re-checked by the hub (revocation closes the socket with 4401, see ../app/hub.ts).
 */
type WsState = {
  user?: User;
  tokenHash?: string;
  timer?: ReturnType<typeof setTimeout>;
  /** The socket's messages so far, handled in order. */
  queue?: Promise<void>;
  closed?: boolean;
};
type Sock = {
  id: string;
  send(d: string): unknown;
  close(code?: number, reason?: string): void;
  subscribe(t: string): void;
  unsubscribe(t: string): void;
  data: { request: Request };
};

export function websocketRoute(gw: Gateway) {
  const states = new Map<string, WsState>();
  // void: Elysia sends whatever a ws handler returns, so returning ws.send()'s byte count emitted a stray "88" frame.
  // After every commit so far is durable (group commit, src/store/durability.ts): a result or a replay may tell of one.
  const send = (ws: Sock, msg: Record<string, unknown>): void => {
    const text = JSON.stringify(msg);
    durable().then(
      () => {
        try {
          ws.send(text);
        } catch {
          // closed meanwhile: what it missed is replayed from the database on reconnect
        }
      },
      () => {},
    );
  };

  const ready = async (ws: Sock, state: WsState, authorization: string) => {
    // A browser always sends Origin on the upgrade: a session bound to our pages is refused from anywhere else.
    const origin = ws.data.request.headers.get("origin");
    // One transaction: the token's use and the replay of what still awaits the user.
    const { user, waiting } = await gw.store.transaction(async (tx) => {
      const { user, grant } = await authIn(tx, gw.clock(), authorization, origin);
      if (grant.kind === "enrol") throw new ProtocolError("UNAUTHORIZED");
      return { user, waiting: await awaitingPrompts(gw, tx, user.id, gw.clock()) };
    });
    if (state.closed) return;
    state.user = user;
    state.tokenHash = sha256Hex(authorization.slice("Bearer ".length));
    clearTimeout(state.timer);
    gw.hub.add(user.id, ws, state.tokenHash);
    send(ws, { type: "ready", user: { id: user.id } });
    for (const m of waiting) send(ws, m);
  };
  const reject = (ws: Sock) => {
    ws.send(JSON.stringify({ type: "error", code: "INVALID_TOKEN", message: "Invalid token" })); // before the close

    ws.close(4401, "unauthorized");
  };
  /** A socket's messages are handled one after the other, in arrival order (each may wait on the store). */
  const enqueue = (state: WsState, step: () => Promise<void>) => {
    state.queue = (state.queue ?? Promise.resolve()).then(step).catch((e) => {
      gw.log.error("websocket message failed", { error: String(e) });
    });
  };

  const handle = async (sock: Sock, state: WsState, msg: Record<string, unknown>) => {
    const ref = typeof msg.ref === "string" || typeof msg.ref === "number" ? { ref: msg.ref } : {};
    const failed = (e: unknown) => {
      if (e instanceof ProtocolError) {
        const details = e.details ? { details: e.details } : {};
        return send(sock, { type: "error", ...ref, code: e.code, message: e.message, ...details });
      }
      gw.log.error("websocket message failed", { error: String(e) });
      return send(sock, { type: "error", ...ref, code: "INTERNAL_ERROR", message: "Internal error" });
    };
    if (!state.user) {
      if (msg.type !== "auth" || typeof msg.token !== "string") return reject(sock);
      try {
        return await ready(sock, state, `Bearer ${msg.token}`);
      } catch {
        return reject(sock);
      }
    }
    const user = state.user;
    try {
      // Every message re-checks the socket's token: a revoked or rotated token gets nothing more on this socket.
      const hash = state.tokenHash!;
      if (!(await gw.store.read((tx) => tx.tokens.liveHashes([hash], gw.clock()))).size) {
        gw.hub.remove(user.id, sock);
        return reject(sock);
      }
      switch (msg.type) {
        case "ping":
          return send(sock, { type: "pong", ...(msg.ts !== undefined ? { ts: msg.ts } : {}) });
        case "confirm":
        case "decline": {
          if (typeof msg.sessionId !== "string")
            throw new ProtocolError("INVALID_REQUEST", "sessionId required (a string)", {
              reason: "schema",
              fields: ["sessionId"],
            });
          const answer = msg.type === "confirm" ? confirmPayment : declinePayment;
          const sessionId = msg.sessionId;
          // Answered once the store transaction committed; a failure is answered like a synchronous one.
          return void answer(gw, user, sessionId).then(
            (r) => send(sock, { type: "result", ...ref, sessionId, ...r }),
            (e) => failed(e),
          );
        }
        case "auth": {
          // A second auth must itself be valid and name the same user. (The socket's own token was re-checked
          // above: a revoked socket is closed before it gets here, so no auth message revives it.)
          const again = await userFromAuthorization(gw, typeof msg.token === "string" ? `Bearer ${msg.token}` : null);
          if (again.id !== user.id)
            throw new ProtocolError("INVALID_REQUEST", "This socket is signed in as another user", {
              reason: "other_user",
            });
          return send(sock, { type: "ready", user: { id: user.id } });
        }
        default:
          throw new ProtocolError("INVALID_REQUEST", "Unknown message type: expected ping, confirm, decline or auth", {
            reason: "unknown_type",
          });
      }
    } catch (e) {
      return failed(e);
    }
  };

  return new Elysia({ name: "oc-ws" }).ws("/app/ws", {
    open(ws) {
      const sock = ws as unknown as Sock;
      const state: WsState = {};
      states.set(sock.id, state);
      const header = sock.data.request.headers.get("authorization");
      if (header) return enqueue(state, () => ready(sock, state, header).catch(() => reject(sock)));
      state.timer = setTimeout(() => !state.user && reject(sock), WS_AUTH_DEADLINE_MS);
    },
    message(ws, raw) {
      const sock = ws as unknown as Sock;
      const state = states.get(sock.id);
      if (!state) return;
      const msg = raw as Record<string, unknown>;
      if (msg === null || typeof msg !== "object" || Array.isArray(msg) || typeof msg.type !== "string")
        return enqueue(state, async () =>
          send(sock, { type: "error", code: "INVALID_REQUEST", message: "Expected a JSON object with a type" }),
        );
      enqueue(state, () => handle(sock, state, msg));
    },
    close(ws) {
      const sock = ws as unknown as Sock;
      const state = states.get(sock.id);
      states.delete(sock.id);
      if (!state) return;
      state.closed = true;
      clearTimeout(state.timer);
      if (state.user) gw.hub.remove(state.user.id, sock);
    },
  });
}
