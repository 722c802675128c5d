// Issue 14: the source folders form a directed graph of imports with no cycles, so each layer can be read, tested and
// replaced (a second store engine, a second bus) without dragging in the layers above it. Type-only imports count:
// a type that flows upward is still a dependency on the upper layer's design.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** Edges that still close a cycle, each with the reason it has not been cut yet. Empty when the code is clean. */
const KNOWN_CYCLE_EDGES: Record<string, string> = {};

/**
 * The layers, lowest first (README "Layout"): a folder (or a file directly in src/) imports only from layers below
 * its own. A new folder must be placed here, which is the moment to decide what it may depend on.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["protocol", "clock.ts", "log.ts", "config-error.ts"], // pure wire rules; time, logging, the start-up error
  ["domain", "verify-pool.ts"], // pure business rules; signature checks off the event loop
  ["verify-worker.ts"], // the pool's crypto thread: runs the jobs whose shape verify-pool.ts defines
  ["store"], // the store port, its engines, every SQL statement
  ["peers", "app", "event-log.ts"], // directory, SSRF guard, signed client; hub and bus; event log drain
  ["config.ts", "http"], // settings (CIDRs from peers/ssrf); HTTP mechanics (auth, bodies, signed answers)
  ["keyfile.ts"],
  ["gateway.ts"], // the type of what a running gateway holds
  ["notify", "ops"], // what users and operators are told; readiness and metrics
  ["settlement"], // scheduler, one run per strategy, proofs, deliveries, post-commit effects
  ["flows"], // use cases
  ["admin", "compose.ts"], // the operator API's use cases; building the gateway once
  ["routes"], // thin HTTP/WebSocket routes and the app composition (server.ts)
  ["start.ts"],
  ["cli"],
  ["main.ts"],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** The top-level folder a source file belongs to; a file directly in src/ is a node of its own. */
function folderOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"(\.{1,2}\/[^"]+)"/g;

function folderGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(SRC + "/")) continue; // bundled data (vectors, web page) is not a source folder
      const isFolder = existsSync(target) && statSync(target).isDirectory(); // "../store" is store/index.ts
      const to = folderOf(isFolder || target.endsWith(".ts") ? join(target, isFolder ? "index.ts" : "") : `${target}.ts`);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), relative(SRC, file)]);
    }
  }
  return graph;
}

/** Tarjan's strongly connected components: every component with more than one folder is a cycle. */
function cycles(graph: Map<string, Map<string, string[]>>, skip: (from: string, to: string) => boolean): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (skip(v, w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}

describe("source folders", () => {
  const graph = folderGraph();

  test("import one another without cycles (apart from the edges listed as not yet cut)", () => {
    const remaining = cycles(graph, (from, to) => `${from} -> ${to}` in KNOWN_CYCLE_EDGES);
    const detail = remaining.map((c) =>
      c.flatMap((from) =>
        c.filter((to) => graph.get(from)?.has(to)).map((to) => `${from} -> ${to} (${graph.get(from)!.get(to)![0]})`),
      ),
    );
    expect(detail).toEqual([]);
  });

  test("every edge listed as not yet cut still exists (the list shrinks as the code is fixed)", () => {
    const stale = Object.keys(KNOWN_CYCLE_EDGES).filter((edge) => {
      const [from, to] = edge.split(" -> ");
      return !graph.get(from!)?.has(to!);
    });
    expect(stale).toEqual([]);
  });

  test("every folder sits in one layer and imports only from the layers below it", () => {
    const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));
    const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
    expect([...nodes].filter((n) => !layerOf.has(n))).toEqual([]);
    expect(LAYERS.flat().filter((n) => !nodes.has(n))).toEqual([]);
    const upward = [...graph].flatMap(([from, edges]) =>
      [...edges]
        .filter(([to]) => layerOf.get(to)! >= layerOf.get(from)!)
        .map(([to, files]) => `${from} -> ${to} (${files[0]})`),
    );
    expect(upward).toEqual([]);
  });

  test("the checker sees a cycle when one exists (a graph with a -> b -> a)", () => {
    const g = new Map([
      ["a", new Map([["b", ["a/x.ts"]]])],
      ["b", new Map([["a", ["b/y.ts"]]])],
    ]);
    expect(cycles(g, () => false)).toEqual([["a", "b"]]);
    expect(cycles(g, (from) => from === "b")).toEqual([]);
  });
});
