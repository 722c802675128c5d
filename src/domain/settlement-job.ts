// §12.4–§12.9 a settlement job's rules as data, and its pure decisions. Pure: the scheduler (src/settlement/
// settle-job.ts) and the /transfer/webhook path (src/flows/inbound-proof.ts) read a job row into a typed step,
// ask what proof that step waits for, and ask `decide` what an outcome means; the store records the answer.
import type { OrderStatus } from "./order-lifecycle";
import { externalAccount, peerAccount } from "./ledger-accounts";

/** §12.2 settlement paths, in the order a job tries them. */
export type Candidate =
  | { type: "direct" }
  | { type: "partner_reserve"; via: number }
  | { type: "common_third_party"; via: number; provider: number }
  | { type: "checkout"; via: number };
export type Strategy = Candidate["type"];

/** A proof as it travels: the object and the signature over its canonical form. */
export type SignedProof = { proof: Record<string, unknown>; signature: string };

export const STEP_NAMES = [
  "direct.credit",
  "checkout.credit",
  "transfer.create",
  "payment.create",
  "provider.transfer.create",
  "payment.settle",
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What the step column holds when the job has no path at all (an order with no candidates). */
export const NO_STEP = "none";

/**
 * One step with exactly the data it needs: the peer it calls, and what earlier steps of the same path produced
 * (the gateway's payment reference, the provider that will move the money, the provider's proof as received).
 */
export type JobStep =
  | { name: "direct.credit"; recipient: "merchant" }
  | { name: "checkout.credit"; via: number }
  | { name: "transfer.create"; via: number }
  | { name: "payment.create"; via: number; provider: number }
  | { name: "provider.transfer.create"; via: number; provider: number; txid: string }
  | { name: "payment.settle"; via: number; provider: number; txid: string; providerProof: SignedProof };
export type StepOf<N extends StepName> = Extract<JobStep, { name: N }>;

type StepRule = {
  strategy: Strategy;
  /** §12.4 pinning: the step can move value, so one success or unknown outcome ties the job to its path. */
  movesValue: boolean;
  /** Its success yields the final proof that pays the order (§12.5), not an intermediate result. */
  final: boolean;
};

/** The steps of §12.6–§12.9, as data. */
export const STEP_RULES: Readonly<Record<StepName, StepRule>> = {
  "direct.credit": { strategy: "direct", movesValue: false, final: true },
  "checkout.credit": { strategy: "checkout", movesValue: false, final: true },
  "transfer.create": { strategy: "partner_reserve", movesValue: true, final: true },
  "payment.create": { strategy: "common_third_party", movesValue: false, final: false },
  "provider.transfer.create": { strategy: "common_third_party", movesValue: true, final: false },
  "payment.settle": { strategy: "common_third_party", movesValue: false, final: true },
};

/** The first step of each strategy (§12.6–§12.9). */
export const FIRST_STEP: Readonly<Record<Strategy, StepName>> = {
  direct: "direct.credit",
  checkout: "checkout.credit",
  partner_reserve: "transfer.create",
  common_third_party: "payment.create",
};

export const firstStep = (c: Candidate | undefined): StepName | typeof NO_STEP => (c ? FIRST_STEP[c.type] : NO_STEP);

export const isStepName = (s: string): s is StepName => (STEP_NAMES as readonly string[]).includes(s);
export const movesValue = (step: string): boolean => isStepName(step) && STEP_RULES[step].movesValue;

/** What `step_data` holds per step (the JSON the job row has always stored). */
type StoredStepData = { txid?: unknown; provider?: unknown; providerProof?: unknown };

const isSigned = (v: unknown): v is SignedProof =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as SignedProof).signature === "string" &&
  typeof (v as SignedProof).proof === "object" &&
  (v as SignedProof).proof !== null;

/**
 * A job row's step, path and data as one typed step; a reason instead when they do not fit together (an unknown
 * step name, a step of another strategy, data an earlier step should have stored and did not).
 */
export function readStep(name: string, data: StoredStepData, c: Candidate): JobStep | { invalid: string } {
  if (!isStepName(name) || STEP_RULES[name].strategy !== c.type) return { invalid: `unknown step ${name}` };
  const missing = { invalid: `${name}: step data missing` };
  switch (c.type) {
    case "direct":
      return { name: "direct.credit", recipient: "merchant" };
    case "checkout":
      return { name: "checkout.credit", via: c.via };
    case "partner_reserve":
      return { name: "transfer.create", via: c.via };
    case "common_third_party": {
      if (name === "payment.create") return { name, via: c.via, provider: c.provider };
      const { txid, provider, providerProof } = data;
      if (typeof txid !== "string" || typeof provider !== "number") return missing;
      if (name === "provider.transfer.create") return { name, via: c.via, provider, txid };
      if (!isSigned(providerProof)) return missing;
      return { name: "payment.settle", via: c.via, provider, txid, providerProof };
    }
  }
}

/** The data of `step` as the job row stores it (`step_data`): only what later steps of the path need. */
export function storedStepData(step: JobStep): string {
  switch (step.name) {
    case "provider.transfer.create":
      return JSON.stringify({ txid: step.txid, provider: step.provider });
    case "payment.settle":
      return JSON.stringify({ txid: step.txid, provider: step.provider, providerProof: step.providerProof });
    default:
      return "{}";
  }
}

// ---------------------------------------------------------------- §12.5 expected proofs

export type OrderParties = { merchantOcid: number; orderId: string };
export type ExpectedProof = { issuer: number; to: { ocid: number; reference: string } };

const toMerchant = (issuer: number, o: OrderParties): ExpectedProof => ({
  issuer,
  to: { ocid: o.merchantOcid, reference: o.orderId },
});

/** §12.5's table: per step, whose proof it waits for and whom it names; null for steps that return no proof. */
const EXPECTED: { [N in StepName]: ((s: StepOf<N>, o: OrderParties) => ExpectedProof) | null } = {
  "direct.credit": null,
  "checkout.credit": null,
  "payment.create": null,
  "transfer.create": (s, o) => toMerchant(s.via, o),
  "provider.transfer.create": (s) => ({ issuer: s.provider, to: { ocid: s.via, reference: s.txid } }),
  "payment.settle": (s, o) => toMerchant(s.via, o),
};

/** Steps whose success is a peer's proof. */
export type ProofStep = StepOf<"transfer.create" | "provider.transfer.create" | "payment.settle">;

/** The proof a step waits for (§12.5): from the scheduler's own call, or posted later to /transfer/webhook. */
export function expectedProof(step: ProofStep, order: OrderParties): ExpectedProof;
export function expectedProof(step: JobStep, order: OrderParties): ExpectedProof | null;
export function expectedProof(step: JobStep, order: OrderParties): ExpectedProof | null {
  const rule = EXPECTED[step.name] as ((s: JobStep, o: OrderParties) => ExpectedProof) | null;
  return rule ? rule(step, order) : null;
}

/** The final proof of a path through a peer (what the operator's `resolve paid` must present); null for local paths. */
export function finalProofExpected(c: Candidate, order: OrderParties): ExpectedProof | null {
  return c.type === "partner_reserve" || c.type === "common_third_party" ? toMerchant(c.via, order) : null;
}

/**
 * §12.1: where the money in flight goes when the path succeeds. The third-party path pays the provider the job
 * chose (payment.create may pick another than the candidate's), so the step's own provider decides.
 */
export function settlementDestination(step: JobStep, order: OrderParties): string {
  switch (step.name) {
    case "direct.credit":
      return peerAccount(order.merchantOcid);
    case "checkout.credit":
      return peerAccount(step.via);
    case "transfer.create":
      return externalAccount(step.via);
    default:
      return externalAccount(step.provider);
  }
}

// ---------------------------------------------------------------- §12.4 retry schedules

/** Ambiguous outcomes are retried after 5 s, 15 s, 30 s, 60 s, then every 60 s. */
export const SETTLEMENT_RETRY_SECONDS = [5, 15, 30, 60] as const;
/** A peer's Retry-After is honoured up to this many seconds. */
export const RETRY_AFTER_CAP_SECONDS = 60;
/** After the deadline a pinned job retries every 10 min ... */
export const REVIEW_RETRY_SECONDS = 600;
/** ... for up to 72 h; then the operator reconciles what is left. */
export const REVIEW_HORIZON_SECONDS = 72 * 3600;
/** §14 webhook deliveries: 10 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly. */
export const DELIVERY_RETRY_SECONDS = [10, 60, 300, 600, 1800, 3600] as const;

const scheduleAt = (schedule: readonly number[], attempt: number): number =>
  schedule[attempt - 1] ?? schedule[schedule.length - 1]!;

/** Delay before the `stepAttempts`-th retry of an ambiguous settlement step (1-based). */
export const settlementRetryDelay = (stepAttempts: number): number =>
  scheduleAt(SETTLEMENT_RETRY_SECONDS, stepAttempts);
/** Delay before the `attempts`-th retry of a webhook delivery (1-based). */
export const deliveryRetryDelay = (attempts: number): number => scheduleAt(DELIVERY_RETRY_SECONDS, attempts);

// ---------------------------------------------------------------- §12.4 decisions

/** What a decision needs to know about the job. */
export type JobFacts = {
  step: string;
  pinned: boolean;
  stepAttempts: number;
  deadline: number;
  pathIndex: number;
  /** Every candidate of the job, in order; `pathIndex` is the one being tried. */
  paths: readonly Candidate[];
};

/** What one step attempt came to (the transport class of §12.4, after the step checked the body). */
export type StepOutcome =
  /** Success, and the path continues with another step. */
  | { kind: "next"; step: JobStep }
  /** Success with the final proof. */
  | { kind: "paid" }
  /** The peer may or may not have acted: retry the same step with the same Idempotency-Key. */
  | { kind: "ambiguous"; reason: string; retryAfter?: number; anomaly?: boolean }
  /** The peer definitely did not act. */
  | { kind: "definite"; reason: string }
  /** Value moved but the path cannot complete (a refused settle, verify says failed): only the operator decides. */
  | { kind: "review"; reason: string };

export type Decision =
  | { action: "advance"; step: JobStep; pinned: boolean }
  | { action: "complete" }
  | { action: "retry"; at: number; pinned: boolean; reason: string; anomaly: boolean }
  | { action: "next_path"; index: number; step: StepName | typeof NO_STEP; reason: string }
  | { action: "review"; reason: string }
  | { action: "refund"; reason: string };

/** Leaving a value-moving step, whether by success or by an unknown outcome, pins the job (§12.4). */
const pinsAfter = (job: JobFacts): boolean => job.pinned || movesValue(job.step);

/** When an ambiguous attempt is retried: the schedule (or Retry-After), never past the deadline; 10 min after it. */
export function retryAt(job: JobFacts, now: number, retryAfter?: number): number {
  if (now > job.deadline) return now + REVIEW_RETRY_SECONDS;
  const delay = Math.max(settlementRetryDelay(job.stepAttempts + 1), retryAfter ?? 0);
  return Math.min(now + delay, Math.max(job.deadline + 1, now + 1));
}

/** §12.4's outcome table. `next_path` names the candidate after this one and its first step. */
export function decide(job: JobFacts, outcome: StepOutcome, now: number): Decision {
  switch (outcome.kind) {
    case "next":
      return { action: "advance", step: outcome.step, pinned: pinsAfter(job) };
    case "paid":
      return { action: "complete" };
    case "ambiguous":
      return {
        action: "retry",
        at: retryAt(job, now, outcome.retryAfter),
        pinned: pinsAfter(job),
        reason: outcome.reason,
        anomaly: outcome.anomaly ?? false,
      };
    case "review":
      return { action: "review", reason: outcome.reason };
    case "definite": {
      const why = outcome.reason;
      if (job.pinned) return { action: "review", reason: `definite failure after value may have moved: ${why}` };
      const index = job.pathIndex + 1;
      if (index >= job.paths.length) return { action: "refund", reason: `every path failed; last: ${outcome.reason}` };
      return { action: "next_path", index, step: firstStep(job.paths[index]), reason: outcome.reason };
    }
  }
}

/** What a run does before its step, given the deadline (§12.4): an unpinned job past it is refunded, a pinned one
 * goes to review and keeps retrying until the reconciliation horizon. */
export type DeadlineDecision =
  | { action: "run"; review: string | null }
  | { action: "refund"; reason: string }
  | { action: "stop"; review: string | null; reason: string };

export function atDeadline(job: JobFacts, orderStatus: OrderStatus, now: number): DeadlineDecision {
  if (now <= job.deadline) return { action: "run", review: null };
  if (!job.pinned) return { action: "refund", reason: "settlement deadline passed" };
  const review = orderStatus === "confirmed" ? "deadline passed after an unknown outcome" : null;
  if (now > job.deadline + REVIEW_HORIZON_SECONDS)
    return { action: "stop", review, reason: "reconciliation horizon passed" };
  return { action: "run", review };
}
