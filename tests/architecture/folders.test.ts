// Issue 14: the source folders form a directed graph of imports with no cycles, so each layer can be read, tested and
// replaced (a second store engine, a second bus) without dragging in the layers above it. Type-only imports count:
// a type that flows upward is still a dependency on the upper layer's design.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** Edges that still close a cycle, each with the reason it has not been cut yet. Empty when the code is clean. */
const KNOWN_CYCLE_EDGES: Record<string, string> = {};

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
      const to = folderOf(target.endsWith(".ts") ? target : `${target}.ts`);
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

  test("the checker sees a cycle when one exists (a graph with a -> b -> a)", () => {
    const g = new Map([
      ["a", new Map([["b", ["a/x.ts"]]])],
      ["b", new Map([["a", ["b/y.ts"]]])],
    ]);
    expect(cycles(g, () => false)).toEqual([["a", "b"]]);
    expect(cycles(g, (from) => from === "b")).toEqual([]);
  });
});
