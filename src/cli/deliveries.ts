import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import type { DeliveryState } from "../store/deliveries";
import { usage, type Out, type Parsed } from "./run";

const STATES = ["pending", "delivered", "rejected", "dead"];

export function deliveriesCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): number {
  const [sub, id] = positionals;
  switch (sub) {
    case "list": {
      const state = values.state as string | undefined;
      if (state !== undefined && !STATES.includes(state))
        throw new OperatorError(`--state must be one of ${STATES.join(", ")}`);
      for (const d of gw.store.deliveries.list((state as DeliveryState) ?? null))
        out.log(
          [
            d.id,
            d.state,
            `attempts=${d.attempts}`,
            `target=${d.target_ocid}`,
            `txid=${d.txid}`,
            ...(d.last_peer_code ? [`merchant=${d.last_peer_code}`] : []),
            d.last_error ?? "",
          ]
            .join("\t")
            .trimEnd(),
        );
      return 0;
    }
    case "replay": {
      if (!id) return usage(out, "deliveries replay <id>");
      const now = gw.clock();
      const ok = gw.store.tx(() => {
        const done = gw.store.deliveries.replay(id, now);
        if (done) gw.store.audit.append("cli", "deliveries.replay", { deliveryId: id }, now);
        return done;
      });
      if (!ok) throw new OperatorError(`no delivery ${id}`);
      out.log(`delivery ${id} is pending again (a running gateway picks it up within seconds)`);
      return 0;
    }
    default:
      return usage(out, "deliveries list [--state S] | replay <id>");
  }
}
