// A /transfer/webhook credit refused after its writes began (the ledger cannot hold it). The webhook's transaction
// rolls back whole — an engine may not go on after a failed statement without a savepoint, and the port has none —
// and the refusal (its reply, and the anomaly the operator sees) is recorded in a transaction of its own.

export type WebhookReply = { status: "accepted" | "rejected"; txid: string; message?: string };

export type RefusalAnomaly = { kind: string; orderId: number | null; jobId: string | null; detail: string };

export class CreditRefused extends Error {
  constructor(
    readonly reply: WebhookReply,
    readonly anomaly: RefusalAnomaly | null,
  ) {
    super(reply.message ?? "refused");
  }
}
