// The event log (issue 15): one JSON line per order state change, settlement step outcome, delivery attempt (with
// the merchant's answer), credit and operator action. Triggers (migration 15-event-outbox) write a row in the
// transaction that made the change, so only committed changes are logged, from this process or the CLI; the
// serving process drains the rows into the log in commit order. No row carries a token, key or signature.
import type { Logger } from "./log";
import type { Tx } from "./store";

type Fields = Record<string, unknown>;

const SETTLEMENT_OUTCOME_WORDS: Record<string, string> = {
  done: "settled",
  failed: "failed",
  in_review: "in review",
  step_succeeded: "succeeded",
  path_failed: "failed definitively; next candidate",
  retry: "ambiguous; will retry",
};

/** What happened, in words, from the old and new values a trigger captured. */
function describe(event: string, d: Fields): { msg: string; outcome?: string } {
  switch (event) {
    case "order":
      return { msg: d.from ? `order ${d.from} -> ${d.to}` : `order received (${d.to})` };
    case "settlement": {
      const outcome =
        d.state !== "pending"
          ? String(d.state)
          : d.nextStep !== d.step
            ? "step_succeeded"
            : d.pathTo !== d.pathFrom
              ? "path_failed"
              : "retry";
      const what = SETTLEMENT_OUTCOME_WORDS[outcome] ?? outcome;
      return { msg: `settlement ${d.strategy ?? "?"} step ${d.step}: ${what}`, outcome };
    }
    case "delivery": {
      const outcome =
        d.previousState !== "pending" && d.state === "pending"
          ? "replayed"
          : d.state === "pending"
            ? "retry"
            : String(d.state);
      return { msg: `webhook delivery to ${d.target}: ${outcome}`, outcome };
    }
    case "credit":
      return { msg: `credit ${d.account} ${d.currency} (${d.reason})` };
    case "operator":
      return { msg: `operator ${d.actor}: ${d.action}` };
    default:
      return { msg: event };
  }
}

/** Events written to the log per drain call, at most. */
export const DRAIN_BATCH = 1000;

/** What draining needs of the store: its port's transaction (the rows are removed as they are taken). */
type DrainStore = { transaction<R>(fn: (tx: Pick<Tx, "eventOutbox">) => Promise<R>): Promise<R> };

export function eventDrainer(gw: { store: DrainStore; log: Logger }) {
  /** Logs and removes up to `limit` committed events, oldest first; returns how many. */
  return async (limit = DRAIN_BATCH): Promise<number> => {
    // One short transaction takes the batch (usually a cheap probe that finds none); the logging follows it.
    const rows = await gw.store.transaction((tx) => tx.eventOutbox.take(limit));
    for (const r of rows) {
      const data = JSON.parse(r.data) as Fields;
      const { msg, outcome } = describe(r.event, data);
      for (const [k, v] of Object.entries(data)) if (v === null) delete data[k];
      gw.log.info(msg, { event: r.event, ...(outcome ? { outcome } : {}), at: r.at, ...data });
    }
    return rows.length;
  };
}
