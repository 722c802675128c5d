// Issue 14 item 3 (the precondition of issue 18): application code reaches storage only through the async port,
// `store.read(async (tx) => …)` and `store.transaction(async (tx) => …)`, so an engine that answers only with
// Promises (PostgreSQL) can serve it. A synchronous repository call (`gw.store.orders.byId(…)`) or a synchronous
// transaction (`store.tx(…)`, `store.txUnless(…)`) outside src/store/ fails here, read the way a reviewer's grep
// would. The repository names are read from createStore's own list, so a new repository is covered at once.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Gateway } from "../../src/gateway";
import type { InspectableGateway } from "../../src/start";

const ROOT = join(import.meta.dir, "../..");
const SRC = join(ROOT, "src");

/**
 * The type side, checked by tsc (`tsc --noEmit` covers tests/): the store application code sees (Gateway["store"],
 * src/store/index.ts PortStore) has the port and no synchronous repository or transaction, while the tests' handle
 * keeps them. The tuple stops compiling if the Gateway's store ever carries `orders` or `tx` again, or if the tests'
 * handle loses them.
 */
type Lacks<T, K extends string> = K extends keyof T ? false : true;
type Has<T, K extends string> = K extends keyof T ? true : false;
const PORT_ONLY: [
  Lacks<Gateway["store"], "orders">,
  Lacks<Gateway["store"], "ledger">,
  Lacks<Gateway["store"], "tx">,
  Lacks<Gateway["store"], "txUnless">,
  Has<Gateway["store"], "transaction">,
  Has<Gateway["store"], "read">,
  Has<InspectableGateway["store"], "orders">,
  Has<InspectableGateway["store"], "tx">,
] = [true, true, true, true, true, true, true, true];

/** The repository names createStore groups (`ledger: ledger(db),` …), from its source. */
function repositoryNames(): string[] {
  const index = readFileSync(join(SRC, "store/index.ts"), "utf8");
  const body = /function repositories\(db: Database\) \{\s*return \{([\s\S]*?)\};\s*\}/.exec(index)?.[1] ?? "";
  return [...body.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]!);
}

function patterns(): { what: string; re: RegExp }[] {
  const repos = repositoryNames().join("|");
  return [
    { what: "a synchronous repository call", re: new RegExp(`\\bstore\\s*\\.\\s*(${repos})\\b`) },
    { what: "a synchronous transaction", re: /\bstore\s*\.\s*(tx|txUnless)\s*\(/ },
    { what: "a repository taken off the store", re: new RegExp(`\\{[^}]*\\b(${repos})\\b[^}]*\\}\\s*=\\s*\\w+\\.store\\b`) },
  ];
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function findings(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const ps = patterns();
  for (const path of sources(SRC)) {
    const file = relative(ROOT, path);
    if (file.startsWith("src/store/")) continue;
    readFileSync(path, "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const p of ps)
          if (p.re.test(line)) found.set(file, [...(found.get(file) ?? []), `${i + 1}: ${p.what}: ${line.trim()}`]);
      });
  }
  return found;
}

test("outside src/store/, storage is reached only through store.read / store.transaction", () => {
  expect([...findings()].flatMap(([f, ls]) => ls.map((l) => `${f}:${l}`))).toEqual([]);
});

test("the Gateway's store type is the port's (the tuple tsc checked above)", () => {
  expect(PORT_ONLY.every((x) => x)).toBe(true);
});

test("the check finds synchronous uses where there are some (it is not vacuous)", () => {
  expect(repositoryNames().length).toBeGreaterThan(25);
  expect(repositoryNames()).toContain("orders");
  const samples = [
    "const o = gw.store.orders.byId(id);",
    "gw.store.tx(() => gw.store.ledger.move(m));",
    "const { tokens } = gw.store;",
  ];
  const ps = patterns();
  expect(ps.map((p) => samples.some((s) => p.re.test(s)))).toEqual(ps.map(() => true));
  // What the port looks like passes.
  const fine = ["await gw.store.read((tx) => tx.orders.byId(id));", "gw.store.transaction(async (tx) => {});"];
  expect(fine.filter((s) => ps.some((p) => p.re.test(s)))).toEqual([]);
});
