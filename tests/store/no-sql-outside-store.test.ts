// Issue 14: every SQL statement lives in src/store/, and no database handle leaves it. This reads the sources the
// way a reviewer's grep would: a query call, a raw handle, a bun:sqlite import or SQL text outside src/store/ fails.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SRC = join(ROOT, "src");

/** What SQL or a database handle looks like in TypeScript source. */
const PATTERNS: { what: string; re: RegExp }[] = [
  { what: "a prepared query", re: /\.(query|prepare)\s*(<|\()/ },
  { what: "a raw statement", re: /\bdb\s*\.\s*(exec|run|transaction)\b/ },
  { what: "the gateway's database handle", re: /\bgw\.db\b|\.db\s*\./ },
  { what: "a bun:sqlite import", re: /from\s+["']bun:sqlite["']/ },
  {
    what: "SQL text",
    re: /\b(SELECT\s+[\w*(].*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX))\b/,
  },
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function findings(): string[] {
  const found: string[] = [];
  for (const path of sources(SRC)) {
    const file = relative(ROOT, path);
    if (file.startsWith("src/store/")) continue;
    readFileSync(path, "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const p of PATTERNS) if (p.re.test(line)) found.push(`${file}:${i + 1}: ${p.what}: ${line.trim()}`);
      });
  }
  return found;
}

test("no SQL and no database handle outside src/store/", () => {
  expect(findings()).toEqual([]);
});

test("the check finds SQL where there is some (it is not vacuous)", () => {
  const hits = PATTERNS.filter((p) =>
    [
      'gw.db.query("SELECT 1 FROM accounts")',
      "db.exec(sql)",
      "const x = gw.db;",
      'import { Database } from "bun:sqlite";',
      "`DELETE FROM nonces WHERE expires_at < ?`",
    ].some((l) => p.re.test(l)),
  );
  expect(hits.map((p) => p.what)).toEqual(PATTERNS.map((p) => p.what));
});

test("the gateway the server runs on has the store, no database handle; only the inspection copy has one", async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { loadConfig } = await import("../../src/config");
  const { openGateway } = await import("../../src/start");
  const { buildGateway } = await import("../../src/compose");
  const dataDir = mkdtempSync(join(tmpdir(), "oc-nodb-"));
  const config = loadConfig({ env: {}, overrides: { dataDir, host: "127.0.0.1", port: 0 } });
  const inspectable = openGateway({ config });
  try {
    // buildGateway is the only place a Gateway is made (the server's and the scheduler's included).
    const { store, key, clock, log } = inspectable;
    const gw = buildGateway({ config, store, key, clock, log });
    expect("db" in gw).toBe(false);
    expect(Object.values(gw).some((v) => (v as unknown) === inspectable.db)).toBe(false);
    expect(inspectable.db.query("SELECT 1 AS one").get()).toEqual({ one: 1 });
  } finally {
    inspectable.store.close();
  }
});
