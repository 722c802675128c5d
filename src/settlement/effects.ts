// Post-commit effects: what a use case wants to happen once its transaction has committed — a push to the user's
// sockets, a wake of the scheduler for work it can run now. A use case returns them with its result instead of
// calling the hub or the scheduler by hand after its transaction; `commit` runs the transaction and only then
// applies them, so nothing is announced that rolled back and nothing inside a transaction waits on I/O.
import type { WsServerMessage } from "../app/schemas";
import type { Change } from "../app/bus";
import type { Tx } from "../store";
import type { DeliveryRow } from "../store/deliveries";
import type { Gateway } from "../gateway";

export type Effect =
  /** `message` computed when applied reads the state as committed (a row other writes in the transaction set). */
  | {
      kind: "push";
      userId: string | null;
      message: WsServerMessage | (() => WsServerMessage | null);
      /** What other nodes re-read for it, when the message does not name it (src/app/hub.ts). */
      about?: About;
    }
  | { kind: "wake_settlement" }
  | { kind: "wake_deliveries" }
  /** A delivery queued leased to this node's scheduler (RunLease.keepDeliverySeconds): it runs it now. */
  | { kind: "run_delivery"; row: DeliveryRow };

type About = Omit<Change, "user">;

/** What applying effects needs: the users' sockets and the scheduler's wake-ups, nothing else of the gateway. */
export type EffectTargets = {
  hub: { send(userId: string | null | undefined, msg: WsServerMessage, about?: About): void };
  events: Pick<Gateway["events"], "settlementEnqueued" | "deliveryEnqueued" | "deliveryLeased">;
};

/** A transaction's value and what to do once it committed. */
export type Committed<T> = { value: T; effects: Effect[] };

export const push = (
  userId: string | null,
  message: Extract<Effect, { kind: "push" }>["message"],
  about?: About,
): Effect => ({ kind: "push", userId, message, about });
export const WAKE_SETTLEMENT: Effect = { kind: "wake_settlement" };
export const WAKE_DELIVERIES: Effect = { kind: "wake_deliveries" };
export const runDelivery = (row: DeliveryRow): Effect => ({ kind: "run_delivery", row });

/** The one runner: applies effects in order, after the commit. */
export function applyEffects(to: EffectTargets, effects: readonly Effect[]): void {
  for (const e of effects) {
    switch (e.kind) {
      case "push": {
        const message = typeof e.message === "function" ? e.message() : e.message;
        if (message) to.hub.send(e.userId, message, e.about);
        break;
      }
      case "wake_settlement":
        to.events.settlementEnqueued();
        break;
      case "wake_deliveries":
        to.events.deliveryEnqueued();
        break;
      case "run_delivery":
        to.events.deliveryLeased?.(e.row);
        break;
    }
  }
}

/** What `commit` needs of the store: its port's transaction (src/store/port.ts). */
export type TransactionRunner = { transaction<R>(fn: (tx: Tx) => Promise<R>): Promise<R> };

/** Runs `fn` as one transaction of the store port, then applies the effects it returned. */
export async function commit<T>(
  deps: EffectTargets & { store: TransactionRunner },
  fn: (tx: Tx) => Promise<Committed<T>>,
): Promise<T> {
  const { value, effects } = await deps.store.transaction(fn);
  applyEffects(deps, effects);
  return value;
}

/** A transaction's value without effects. */
export const only = <T>(value: T): Committed<T> => ({ value, effects: [] });
