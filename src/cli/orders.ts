import { readFileSync } from "node:fs";
import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import { resolveOrder } from "../flows/operator-resolve";
import { usage, type Out, type Parsed } from "./run";
import { ORDER_STATUSES } from "../domain/order-lifecycle";
import { asStored } from "../store/records";

const STATUSES: readonly string[] = ORDER_STATUSES;
const MS_PER_SECOND = 1000;
const DEFAULT_LIST_LIMIT = 50;

export async function ordersCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, id, action] = positionals;
  switch (sub) {
    case "list": {
      const status = values.status as string | undefined;
      if (status !== undefined && !STATUSES.includes(status))
        throw new OperatorError(`--status must be one of ${STATUSES.join(", ")}`);
      const limit = values.limit === undefined ? DEFAULT_LIST_LIMIT : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new OperatorError("--limit must be a positive integer");
      for (const r of await gw.store.read((tx) => tx.orderQueries.lines(status ?? null, limit))) {
        const updated = new Date(r.updatedAt * MS_PER_SECOND).toISOString();
        const amount = `${r.amount} ${r.currency}`;
        const columns = [
          r.id,
          r.status,
          amount,
          `merchant=${r.merchantOcid}`,
          `order=${r.orderId}`,
          r.settlementType ?? "-",
          updated,
        ];
        out.log(columns.join("\t"));
      }
      return 0;
    }
    case "show": {
      if (!id || !/^[0-9]+$/.test(id)) return usage(out, "orders show <id>");
      const seen = await gw.store.read(async (tx) => {
        const o = await tx.orders.byId(Number(id));
        if (!o) return null;
        const ofOrder = {
          anomalies: await tx.anomalies.ofOrder(o.id),
          deliveries: await tx.deliveryQueries.ofOrder(o.id),
        };
        return { o, job: await tx.jobs.byOrder(o.id), ...ofOrder };
      });
      if (!seen) throw new OperatorError(`no order with id ${id}`);
      const { o, job } = seen;
      // The CLI's JSON keeps the database's names (operators' scripts read it).
      const anomalies = seen.anomalies.map((a) => ({
        kind: a.kind,
        detail: a.detail,
        created_at: a.createdAt,
        resolved_at: a.resolvedAt,
      }));
      const deliveries = seen.deliveries.map((d) => ({
        id: d.id,
        state: d.state,
        attempts: d.attempts,
        last_error: d.lastError,
      }));
      const { amountMinor, orderJson, urlsJson, candidatesJson, finalProofJson, ...rest } = o;
      out.log(
        JSON.stringify(
          {
            ...asStored(rest),
            amount_minor: amountMinor.toString(),
            order: JSON.parse(orderJson),
            urls: JSON.parse(urlsJson),
            candidates: JSON.parse(candidatesJson),
            final_proof: finalProofJson ? JSON.parse(finalProofJson) : null,
            job: job
              ? {
                  id: job.id,
                  state: job.state,
                  step: job.step,
                  path_index: job.pathIndex,
                  pinned: !!job.pinned,
                  attempts: job.attempts,
                  last_error: job.lastError,
                }
              : null,
            deliveries,
            anomalies,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    case "resolve": {
      if (!id || !/^[0-9]+$/.test(id) || (action !== "paid" && action !== "refund"))
        return usage(out, "orders resolve <id> paid --proof <file> | refund");
      let proof: unknown;
      if (action === "paid") {
        if (typeof values.proof !== "string") return usage(out, "orders resolve <id> paid --proof <file>");
        try {
          proof = JSON.parse(readFileSync(values.proof, "utf8"));
        } catch (e) {
          throw new OperatorError(`cannot read proof file: ${(e as Error).message}`);
        }
      }
      const result = await resolveOrder(gw, Number(id), action, proof);
      const proofTxid = (proof as { proof?: { txid?: unknown } })?.proof?.txid ?? null;
      const audited = { orderId: Number(id), action, proofTxid };
      await gw.store.transaction((tx) => tx.audit.append("cli", "orders.resolve", audited, gw.clock()));
      out.log(result);
      return 0;
    }
    default:
      return usage(out, "orders list | show <id> | resolve <id> paid --proof <file> | refund");
  }
}
