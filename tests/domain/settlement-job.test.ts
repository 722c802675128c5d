// §12.2, §12.4, §12.5 and §14 decisions as vectors: each table below is written out from the SPEC by hand, so a
// rule changed in src/domain/settlement-job.ts (or src/settlement/candidates.ts) fails a row here.
import { describe, expect, test } from "bun:test";
import {
  atDeadline,
  decide,
  deliveryRetryDelay,
  expectedProof,
  finalProofExpected,
  FIRST_STEP,
  movesValue,
  readStep,
  retryAt,
  settlementDestination,
  settlementRetryDelay,
  storedStepData,
  type Candidate,
  type Decision,
  type ExpectedProof,
  type JobFacts,
  type JobStep,
  type StepOutcome,
} from "../../src/domain/settlement-job";
import type { OrderStatus } from "../../src/domain/order-lifecycle";
import { chooseCandidates } from "../../src/settlement/candidates";
import { classify } from "../../src/settlement/classify";

const NOW = 1_700_000_000;
const DEADLINE = NOW + 900;
const ORDER = { merchantOcid: 500, orderId: "ord_abc123" };
const PROVIDER_PROOF = { proof: { txid: "p_1", issuer: 700 }, signature: "ab" };

const PARTNER: Candidate = { type: "partner_reserve", via: 300 };
const THIRD: Candidate = { type: "common_third_party", via: 400, provider: 700 };
const DIRECT: Candidate = { type: "direct" };
const CHECKOUT: Candidate = { type: "checkout", via: 600 };

const job = (over: Partial<JobFacts> = {}): JobFacts => ({
  step: "transfer.create",
  pinned: false,
  stepAttempts: 0,
  deadline: DEADLINE,
  pathIndex: 0,
  paths: [PARTNER, THIRD],
  ...over,
});

describe("§12.4 outcome table: decide(job, outcome, now)", () => {
  const PROVIDER_STEP: JobStep = { name: "provider.transfer.create", via: 400, provider: 700, txid: "pay_1" };
  const SETTLE: JobStep = { ...PROVIDER_STEP, name: "payment.settle", providerProof: PROVIDER_PROOF };
  const CASES: readonly [name: string, facts: Partial<JobFacts>, outcome: StepOutcome, decision: Decision][] = [
    [
      "success of payment.create advances unpinned (no value moved)",
      { step: "payment.create", paths: [THIRD] },
      { kind: "next", step: PROVIDER_STEP },
      { action: "advance", step: PROVIDER_STEP, pinned: false },
    ],
    [
      "success of provider.transfer.create advances and pins (value moved)",
      { step: "provider.transfer.create", paths: [THIRD] },
      { kind: "next", step: SETTLE },
      { action: "advance", step: SETTLE, pinned: true },
    ],
    ["success with the final proof completes", {}, { kind: "paid" }, { action: "complete" }],
    [
      "ambiguous on a value-moving step retries after 5 s and pins",
      {},
      { kind: "ambiguous", reason: "timeout" },
      { action: "retry", at: NOW + 5, pinned: true, reason: "timeout", anomaly: false },
    ],
    [
      "ambiguous on payment.create retries without pinning",
      { step: "payment.create", paths: [THIRD] },
      { kind: "ambiguous", reason: "http_503" },
      { action: "retry", at: NOW + 5, pinned: false, reason: "http_503", anomaly: false },
    ],
    [
      "an unverifiable 2xx body is ambiguous plus an anomaly",
      { stepAttempts: 2, pinned: true },
      { kind: "ambiguous", reason: "proof rejected", anomaly: true },
      { action: "retry", at: NOW + 30, pinned: true, reason: "proof rejected", anomaly: true },
    ],
    [
      "Retry-After longer than the schedule is honoured",
      {},
      { kind: "ambiguous", reason: "http_429", retryAfter: 45 },
      { action: "retry", at: NOW + 45, pinned: true, reason: "http_429", anomaly: false },
    ],
    [
      "definite on the first path, unpinned: the next candidate from its first step",
      {},
      { kind: "definite", reason: "http_402" },
      { action: "next_path", index: 1, step: "payment.create", reason: "http_402" },
    ],
    [
      "definite on the last path, unpinned: refund",
      { pathIndex: 1, step: "payment.create" },
      { kind: "definite", reason: "http_400" },
      { action: "refund", reason: "every path failed; last: http_400" },
    ],
    [
      "definite after the job was pinned: review, never another path",
      { pinned: true },
      { kind: "definite", reason: "http_400" },
      { action: "review", reason: "definite failure after value may have moved: http_400" },
    ],
    [
      "a refused settle after the provider moved the money: review",
      { step: "payment.settle", pinned: true, paths: [THIRD] },
      { kind: "review", reason: "verify: failed" },
      { action: "review", reason: "verify: failed" },
    ],
  ];
  test.each(CASES)("%s", (_name, facts, outcome, decision) => {
    expect(decide(job(facts), outcome, NOW)).toEqual(decision);
  });
});

describe("§12.4 transport classes (classify) feed the table", () => {
  const response = (status: number, json?: unknown, headers: Record<string, string> = {}) =>
    ({ kind: "response", status, json, headers: new Headers(headers), signatureValid: true }) as never;
  const CASES: readonly [name: string, result: unknown, kind: string][] = [
    ["200 is success (the step checks the body)", response(200, {}), "success"],
    ["timeout / connection error is ambiguous", { kind: "failure", reason: "timeout" }, "ambiguous"],
    ["500 is ambiguous", response(500), "ambiguous"],
    ["408 is ambiguous", response(408), "ambiguous"],
    ["425 is ambiguous", response(425), "ambiguous"],
    ["429 is ambiguous", response(429), "ambiguous"],
    [
      "a 2xx with an invalid response signature is ambiguous",
      { ...(response(200) as object), signatureValid: false },
      "ambiguous",
    ],
    ["402 is definite", response(402, { error: { code: "INSUFFICIENT_FUNDS" } }), "definite"],
    ["404 is definite", response(404), "definite"],
    ["a peer unknown to the directory (refused) is definite", { kind: "refused", reason: "unknown peer" }, "definite"],
  ];
  test.each(CASES)("%s", (_name, result, kind) => {
    expect(classify(result as never).kind).toBe(kind as never);
  });

  test("Retry-After is read in seconds and capped at 60", () => {
    const capped = classify(response(503, undefined, { "retry-after": "600" }));
    expect(capped).toMatchObject({ kind: "ambiguous", retryAfter: 60 });
  });
});

describe("§12.4 and §14 retry schedules", () => {
  const SETTLEMENT: readonly [attempt: number, seconds: number][] = [
    [1, 5],
    [2, 15],
    [3, 30],
    [4, 60],
    [5, 60],
    [50, 60],
  ];
  test.each(SETTLEMENT)("settlement retry %i waits %i s", (attempt, seconds) => {
    expect(settlementRetryDelay(attempt)).toBe(seconds);
  });

  const DELIVERY: readonly [attempt: number, seconds: number][] = [
    [1, 10],
    [2, 60],
    [3, 300],
    [4, 600],
    [5, 1800],
    [6, 3600],
    [7, 3600],
    [40, 3600],
  ];
  test.each(DELIVERY)("webhook delivery retry %i waits %i s", (attempt, seconds) => {
    expect(deliveryRetryDelay(attempt)).toBe(seconds);
  });

  type RetryCase = [name: string, facts: Partial<JobFacts>, now: number, retryAfter: number | undefined, at: number];
  const AT: readonly RetryCase[] = [
    ["first retry: now + 5 s", {}, NOW, undefined, NOW + 5],
    ["fourth retry: now + 60 s", { stepAttempts: 3 }, NOW, undefined, NOW + 60],
    ["never past the deadline: deadline + 1", {}, DEADLINE - 2, undefined, DEADLINE + 1],
    ["Retry-After is also cut at the deadline", {}, DEADLINE - 30, 60, DEADLINE + 1],
    ["past the deadline (pinned, in review): every 10 min", { pinned: true }, DEADLINE + 1, undefined, DEADLINE + 601],
  ];
  test.each(AT)("%s", (_name, facts, now, retryAfter, at) => {
    expect(retryAt(job(facts), now, retryAfter)).toBe(at);
  });
});

describe("§12.4 deadline: atDeadline(job, orderStatus, now)", () => {
  const HORIZON = 72 * 3600;
  const CASES: readonly [name: string, pinned: boolean, status: OrderStatus, now: number, decision: unknown][] = [
    ["before the deadline the step runs", false, "confirmed", DEADLINE, { action: "run", review: null }],
    [
      "unpinned past the deadline: refund",
      false,
      "confirmed",
      DEADLINE + 1,
      { action: "refund", reason: "settlement deadline passed" },
    ],
    [
      "pinned past the deadline: review, and keep retrying",
      true,
      "confirmed",
      DEADLINE + 1,
      { action: "run", review: "deadline passed after an unknown outcome" },
    ],
    ["pinned and already in review: keep retrying", true, "in_review", DEADLINE + 1, { action: "run", review: null }],
    [
      "pinned past the 72 h horizon: stop, the operator reconciles",
      true,
      "in_review",
      DEADLINE + HORIZON + 1,
      { action: "stop", review: null, reason: "reconciliation horizon passed" },
    ],
  ];
  test.each(CASES)("%s", (_name, pinned, status, now, decision) => {
    expect(atDeadline(job({ pinned }), status, now)).toEqual(decision as never);
  });
});

describe("§12.4 pinning: which steps can move value", () => {
  const CASES: readonly [step: string, moves: boolean][] = [
    ["direct.credit", false],
    ["checkout.credit", false],
    ["transfer.create", true],
    ["payment.create", false],
    ["provider.transfer.create", true],
    ["payment.settle", false],
    ["none", false],
    ["unknown.step", false],
  ];
  test.each(CASES)("%s moves value: %p", (step, moves) => {
    expect(movesValue(step)).toBe(moves);
  });

  const FIRST: readonly [Candidate["type"], string][] = [
    ["direct", "direct.credit"],
    ["checkout", "checkout.credit"],
    ["partner_reserve", "transfer.create"],
    ["common_third_party", "payment.create"],
  ];
  test.each(FIRST)("a %s path starts with %s", (strategy, step) => {
    expect(FIRST_STEP[strategy]).toBe(step as never);
  });
});

describe("§12.5 expected proofs: expectedProof(step, order)", () => {
  const merchant = { ocid: 500, reference: "ord_abc123" };
  const CASES: readonly [step: JobStep, expected: ExpectedProof | null][] = [
    [{ name: "direct.credit", recipient: "merchant" }, null],
    [{ name: "checkout.credit", via: 600 }, null],
    [{ name: "payment.create", via: 400, provider: 700 }, null],
    [{ name: "transfer.create", via: 300 }, { issuer: 300, to: merchant }],
    [
      { name: "provider.transfer.create", via: 400, provider: 700, txid: "pay_1" },
      { issuer: 700, to: { ocid: 400, reference: "pay_1" } },
    ],
    [
      { name: "payment.settle", via: 400, provider: 700, txid: "pay_1", providerProof: PROVIDER_PROOF },
      { issuer: 400, to: merchant },
    ],
  ];
  test.each(CASES)("%o waits for %o", (step, expected) => {
    expect(expectedProof(step, ORDER)).toEqual(expected);
  });

  const FINAL: readonly [Candidate, ExpectedProof | null][] = [
    [DIRECT, null],
    [CHECKOUT, null],
    [PARTNER, { issuer: 300, to: merchant }],
    [THIRD, { issuer: 400, to: merchant }],
  ];
  test.each(FINAL)("the operator's final proof for %o is %o", (c, expected) => {
    expect(finalProofExpected(c, ORDER)).toEqual(expected);
  });

  const DESTINATION: readonly [step: JobStep, account: string][] = [
    [{ name: "direct.credit", recipient: "merchant" }, "peer:500"],
    [{ name: "checkout.credit", via: 600 }, "peer:600"],
    [{ name: "transfer.create", via: 300 }, "external:300"],
    [{ name: "payment.settle", via: 400, provider: 701, txid: "pay_1", providerProof: PROVIDER_PROOF }, "external:701"],
  ];
  test.each(DESTINATION)("§12.1: success of %o moves the money in flight to %s", (step, account) => {
    expect(settlementDestination(step, ORDER)).toBe(account);
  });
});

describe("a job row read as a typed step: readStep(step, step_data, candidate)", () => {
  const CASES: readonly [name: string, step: string, data: object, c: Candidate, out: unknown][] = [
    ["direct", "direct.credit", {}, DIRECT, { name: "direct.credit", recipient: "merchant" }],
    ["checkout", "checkout.credit", {}, CHECKOUT, { name: "checkout.credit", via: 600 }],
    ["partner", "transfer.create", {}, PARTNER, { name: "transfer.create", via: 300 }],
    [
      "payment.create takes the candidate's provider",
      "payment.create",
      {},
      THIRD,
      { name: "payment.create", via: 400, provider: 700 },
    ],
    [
      "provider.transfer.create takes the provider payment.create chose",
      "provider.transfer.create",
      { txid: "pay_1", provider: 701 },
      THIRD,
      { name: "provider.transfer.create", via: 400, provider: 701, txid: "pay_1" },
    ],
    [
      "payment.settle carries the provider's proof",
      "payment.settle",
      { txid: "pay_1", provider: 701, providerProof: PROVIDER_PROOF },
      THIRD,
      { name: "payment.settle", via: 400, provider: 701, txid: "pay_1", providerProof: PROVIDER_PROOF },
    ],
    [
      "a step of another strategy is refused",
      "payment.create",
      {},
      PARTNER,
      { invalid: "unknown step payment.create" },
    ],
    ["an unknown step is refused", "none", {}, DIRECT, { invalid: "unknown step none" }],
    [
      "payment.settle without the provider's proof is refused",
      "payment.settle",
      { txid: "pay_1", provider: 701 },
      THIRD,
      { invalid: "payment.settle: step data missing" },
    ],
  ];
  test.each(CASES)("%s", (_name, step, data, c, out) => {
    expect(readStep(step, data, c)).toEqual(out as never);
  });

  test("what a step stores reads back as the same step", () => {
    const steps: JobStep[] = [
      { name: "provider.transfer.create", via: 400, provider: 701, txid: "pay_1" },
      { name: "payment.settle", via: 400, provider: 701, txid: "pay_1", providerProof: PROVIDER_PROOF },
    ];
    for (const s of steps) expect(readStep(s.name, JSON.parse(storedStepData(s)), THIRD)).toEqual(s);
  });
});

describe("§12.2 candidate selection: chooseCandidates(config, accepts, currency, metadata)", () => {
  const config = {
    ocid: 200,
    partners: [
      { ocid: 300, reserveCurrencies: ["USD"] },
      { ocid: 310, reserveCurrencies: ["EUR"] },
    ],
    providers: [
      { ocid: 700, currencies: ["USD"] },
      { ocid: 701, currencies: ["USD", "EUR"] },
    ],
  };
  const META: Record<number, readonly number[] | null> = {
    300: [700],
    310: [701],
    400: [999, 701, 700],
    410: [999],
    420: null, // metadata unavailable within the budget
    430: [430, 700],
  };
  const CASES: readonly [name: string, accepts: number[], currency: string, out: Candidate[]][] = [
    ["we are in accepts: direct first", [200, 300], "USD", [DIRECT, { type: "partner_reserve", via: 300 }]],
    [
      "partner reserves come before third-party paths, and only for their currency",
      [310, 300],
      "USD",
      [
        { type: "partner_reserve", via: 300 },
        { type: "common_third_party", via: 310, provider: 701 },
      ],
    ],
    [
      "a partner in another currency falls through to the third-party path",
      [310],
      "USD",
      [{ type: "common_third_party", via: 310, provider: 701 }],
    ],
    [
      "the first provider in the gateway's list where we hold an account",
      [400],
      "USD",
      [{ type: "common_third_party", via: 400, provider: 701 }],
    ],
    ["a gateway with no common provider is skipped", [410], "USD", []],
    [
      "a gateway whose metadata is unavailable is skipped",
      [420, 400],
      "EUR",
      [{ type: "common_third_party", via: 400, provider: 701 }],
    ],
    ["a gateway is never its own provider", [430], "USD", [{ type: "common_third_party", via: 430, provider: 700 }]],
    ["no provider account in the currency: local candidates only", [200, 400], "GBP", [DIRECT]],
    [
      "a third-party gateway listed twice in accepts is one candidate",
      [400, 400],
      "USD",
      [{ type: "common_third_party", via: 400, provider: 701 }],
    ],
    ["nothing we can settle through: empty (canSettle is false)", [999], "USD", []],
  ];
  test.each(CASES)("%s", (_name, accepts, currency, out) => {
    expect(chooseCandidates(config, accepts, currency, (g) => META[g] ?? null)).toEqual(out);
  });
});
