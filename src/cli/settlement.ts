import { readFileSync } from "node:fs";
import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import { resolveOrder } from "../flows/operator-resolve";
import type { DeliveryState } from "../store/deliveries";
import { usage, type Out, type Parsed } from "./run";

const STATES = ["pending", "delivered", "rejected", "dead"];

export function deliveriesCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): number {
  const [sub, id] = positionals;
  switch (sub) {
    case "list": {
      const state = values.state as string | undefined;
      if (state !== undefined && !STATES.includes(state)) throw new OperatorError(`--state must be one of ${STATES.join(", ")}`);
      for (const d of gw.store.deliveries.list((state as DeliveryState) ?? null))
        out.log([d.id, d.state, `attempts=${d.attempts}`, `target=${d.target_ocid}`, `txid=${d.txid}`, d.last_error ?? ""].join("\t").trimEnd());
      return 0;
    }
    case "replay": {
      if (!id) return usage(out, "deliveries replay <id>");
      if (!gw.store.deliveries.replay(id, gw.clock())) throw new OperatorError(`no delivery ${id}`);
      out.log(`delivery ${id} is pending again (the running gateway picks it up within seconds)`);
      return 0;
    }
    default:
      return usage(out, "deliveries list [--state S] | replay <id>");
  }
}

export async function ordersCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, id, action] = positionals;
  if (sub !== "resolve") return usage(out, "orders resolve <id> paid --proof <file> | refund");
  if (!id || !/^[0-9]+$/.test(id) || (action !== "paid" && action !== "refund")) return usage(out, "orders resolve <id> paid --proof <file> | refund");
  let proof: unknown;
  if (action === "paid") {
    if (typeof values.proof !== "string") return usage(out, "orders resolve <id> paid --proof <file>");
    try {
      proof = JSON.parse(readFileSync(values.proof, "utf8"));
    } catch (e) {
      throw new OperatorError(`cannot read proof file: ${(e as Error).message}`);
    }
  }
  out.log(await resolveOrder(gw, Number(id), action, proof));
  return 0;
}
