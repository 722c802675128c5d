// Pushes across nodes (issue 18 item 3): a change another node committed (heard on the bus, src/app/bus.ts) becomes a
// push to the sockets this node holds for its user, read from the database (src/notify/user-feed.ts), never from
// the signal. A change for a user with no socket here costs nothing (no read). When the bus may have missed
// changes (its listen connection reconnected), every user with a socket here gets what a WebSocket open replays.
// This node's own changes were pushed to its sockets directly by the hub, from the committing transaction.
import type { Gateway } from "../gateway";
import type { Bus, Change } from "../app/bus";
import { feedOf } from "./user-feed";

type RelayDeps = Pick<Gateway, "store" | "clock" | "hub" | "directory" | "log" | "config">;

/** Subscribes this node's hub to the bus; returns the unsubscribe function. */
export function relayChanges(gw: RelayDeps, bus: Bus): () => void {
  // One read at a time per change (its user and what of theirs): changes heard while it runs make one more read
  // after it, not one each (a burst of updates for one session is pushed as what the last read shows).
  const reading = new Map<string, boolean>();
  const reread = (change: Change): void => {
    const key = JSON.stringify([change.user, change.session, change.transfer, change.credit]);
    if (reading.has(key)) return void reading.set(key, true);
    reading.set(key, false);
    const run = (): void => {
      gw.store
        .read((tx) => feedOf(gw, tx, change, gw.clock()))
        .then(
          (msgs) => gw.hub.deliver(change.user, msgs),
          (e) => gw.log.warn("cross-node push not read (the user gets it on reconnect)", { error: String(e) }),
        )
        .finally(() => {
          if (reading.get(key) && gw.hub.isOnline(change.user)) {
            reading.set(key, false);
            run();
          } else reading.delete(key);
        });
    };
    run();
  };
  return bus.subscribe({
    onChange: (change, local) => {
      if (!local && gw.hub.isOnline(change.user)) reread(change);
    },
    onReplay: () => {
      for (const user of gw.hub.onlineUsers()) reread({ user });
    },
  });
}
