// Issue 21: tiers as configuration — checked at start (a bad amount or currency stops the start naming the entry),
// and the pure rules: which tier grants qualify for, and the operator's per-user values on top of a tier's.
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";
import { buildCurrencyTable } from "../../src/protocol/currencies";
import { effectiveLimits, grantsAsked, parseTiers, qualifyingTier } from "../../src/domain/tiers";
import { KYC_TIERS } from "./config";

const table = buildCurrencyTable();

test("a bad tier stops the start with a line naming it", () => {
  const bad = (tiers: unknown) => () => loadConfig({ env: {}, overrides: { kyc: { tiers } as never } });
  expect(bad([{ name: "a", grants: [], limits: { USD: { perDay: "1.001" } } }])).toThrow(/kyc.tiers\[0\] \(a\).limits.USD.perDay/);
  expect(bad([{ name: "a", grants: [], limits: { XXX1: { perDay: "1" } } }])).toThrow(ConfigError);
  expect(bad([{ name: "a", grants: [] }, { name: "a", grants: [] }])).toThrow(/used twice/);
  expect(bad([{ name: "A B", grants: [] }])).toThrow(ConfigError);
  expect(loadConfig({ env: {}, overrides: { kyc: { tiers: KYC_TIERS, providers: [900] } as never } }).kyc.providers).toEqual([900]);
});

test("qualifying tier: the highest whose grants are all verified; the lowest needs none", () => {
  const tiers = parseTiers(KYC_TIERS, table);
  expect(qualifyingTier(tiers, new Set())!.name).toBe("basic");
  expect(qualifyingTier(tiers, new Set(["address"]))!.name).toBe("basic");
  expect(qualifyingTier(tiers, new Set(["identity"]))!.name).toBe("verified");
  expect(qualifyingTier(tiers, new Set(["identity", "address", "other"]))!.name).toBe("full");
  expect(qualifyingTier([], new Set(["identity"]))).toBeNull();
  expect(grantsAsked(tiers)).toEqual(["address", "identity"]);
});

test("limits: a tier's values in minor units, zero allowed, the operator's per-user values replace them one by one", () => {
  const [basic] = parseTiers([{ name: "b", grants: [], limits: { USD: { perPayment: "50.00", maxBalance: "0" }, JPY: { perDay: "1000" } } }], table);
  expect(effectiveLimits(basic!, "USD", {})).toEqual({ per_payment: 5000n, max_balance: 0n });
  expect(effectiveLimits(basic!, "JPY", {})).toEqual({ per_day: 1000n });
  expect(effectiveLimits(basic!, "USD", { per_payment: 9000n, per_day: 1n })).toEqual({ per_payment: 9000n, per_day: 1n, max_balance: 0n });
  expect(effectiveLimits(basic!, "EUR", {})).toEqual({});
  expect(effectiveLimits(null, "USD", { per_day: 5n })).toEqual({ per_day: 5n });
});
