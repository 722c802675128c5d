import { readFileSync } from "node:fs";
import type { Gateway } from "../gateway";
import { OperatorError } from "../flows/accounts";
import { resolveOrder } from "../flows/operator-resolve";
import { usage, type Out, type Parsed } from "./run";
import { ORDER_STATUSES } from "../domain/order-lifecycle";

const STATUSES: readonly string[] = ORDER_STATUSES;

export async function ordersCommand(gw: Gateway, { values, positionals }: Parsed, out: Out): Promise<number> {
  const [sub, id, action] = positionals;
  switch (sub) {
    case "list": {
      const status = values.status as string | undefined;
      if (status !== undefined && !STATUSES.includes(status)) throw new OperatorError(`--status must be one of ${STATUSES.join(", ")}`);
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new OperatorError("--limit must be a positive integer");
      const rows = gw.db
        .query<{ id: number; order_id: string; merchant_ocid: number; amount: string; currency: string; status: string; settlement_type: string | null; updated_at: number }, [string | null, number]>(
          "SELECT id, order_id, merchant_ocid, amount, currency, status, settlement_type, updated_at FROM orders WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .all(status ?? null, limit);
      for (const r of rows)
        out.log([r.id, r.status, `${r.amount} ${r.currency}`, `merchant=${r.merchant_ocid}`, `order=${r.order_id}`, r.settlement_type ?? "-", new Date(r.updated_at * 1000).toISOString()].join("\t"));
      return 0;
    }
    case "show": {
      if (!id || !/^[0-9]+$/.test(id)) return usage(out, "orders show <id>");
      const o = gw.store.orders.byId(Number(id));
      if (!o) throw new OperatorError(`no order with id ${id}`);
      const job = gw.store.jobs.byOrder(o.id);
      const anomalies = gw.db.query("SELECT kind, detail, created_at, resolved_at FROM anomalies WHERE order_id = ? ORDER BY id").all(o.id);
      const deliveries = gw.db.query("SELECT id, state, attempts, last_error FROM deliveries WHERE order_id = ?").all(o.id);
      const { amount_minor, order_json, urls_json, candidates_json, final_proof_json, ...rest } = o;
      out.log(
        JSON.stringify(
          {
            ...rest,
            amount_minor: amount_minor.toString(),
            order: JSON.parse(order_json),
            urls: JSON.parse(urls_json),
            candidates: JSON.parse(candidates_json),
            final_proof: final_proof_json ? JSON.parse(final_proof_json) : null,
            job: job ? { id: job.id, state: job.state, step: job.step, path_index: job.path_index, pinned: !!job.pinned, attempts: job.attempts, last_error: job.last_error } : null,
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
      const result = await resolveOrder(gw, Number(id), action, proof);
      gw.store.tx(() => gw.store.audit.append("cli", "orders.resolve", { orderId: Number(id), action, proofTxid: (proof as { proof?: { txid?: unknown } })?.proof?.txid ?? null }, gw.clock()));
      out.log(result);
      return 0;
    }
    default:
      return usage(out, "orders list | show <id> | resolve <id> paid --proof <file> | refund");
  }
}
