import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import type { DeliveryState } from "../store/deliveries";
import { usage, type Out, type Parsed } from "./run";

const STATES = ["pending", "delivered", "rejected", "dead"];

export async function deliveriesCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, id] = positionals;
  switch (sub) {
    case "list": {
      const state = values.state as string | undefined;
      if (state !== undefined && !STATES.includes(state))
        throw new OperatorError(`--state must be one of ${STATES.join(", ")}`);
      for (const d of await gw.store.read((tx) => tx.deliveries.list((state as DeliveryState) ?? null)))
        out.log(
          [
            d.id,
            d.state,
            `attempts=${d.attempts}`,
            `target=${d.targetOcid}`,
            `txid=${d.txid}`,
            ...(d.lastPeerCode ? [`merchant=${d.lastPeerCode}`] : []),
            d.lastError ?? "",
          ]
            .join("\t")
            .trimEnd(),
        );
      return 0;
    }
    case "replay": {
      if (!id) return usage(out, "deliveries replay <id>");
      const now = gw.clock();
      const ok = await gw.store.transaction(async (tx) => {
        const done = await tx.deliveries.replay(id, now);
        if (done) await tx.audit.append("cli", "deliveries.replay", { deliveryId: id }, now);
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
