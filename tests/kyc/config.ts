// The tiers the KYC tests run with: limits double per step, so each boundary is easy to reach and to read.
export const KYC_TIERS = [
  { name: "basic", grants: [], limits: { USD: { perPayment: "50.00", perDay: "100.00", maxBalance: "200.00" } } },
  { name: "verified", grants: ["identity"], limits: { USD: { perPayment: "500.00", perDay: "1000.00", maxBalance: "2000.00" } } },
  { name: "full", grants: ["identity", "address"], limits: { USD: { perPayment: "5000.00", perDay: "10000.00", maxBalance: "20000.00" } } },
];
