// Build-time bundling of the web wallet, used as a Bun macro by src/routes/web.ts:
//   import { webAssets } from "../../web/build" with { type: "macro" };
// A macro runs while Bun transpiles the importing file — at start-up under `bun src/main.ts` / `bun test`, and at
// bundle time under `bun build --compile` — and its return value is inlined into the module as a literal. So the
// browser JavaScript and CSS live in the JS module graph and nothing is read from disk when the server runs.
// (Bun.build cannot be called from inside a macro while bundling, hence the CLI in a child process.)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function bundleScript(entry: string): string {
  const r = Bun.spawnSync([process.execPath, "build", entry, "--target=browser", "--format=iife", "--minify", "--sourcemap=none"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const out = r.stdout.toString();
  if (!r.success || out.trim() === "") throw new Error(`web bundle failed for ${entry}:\n${r.stderr.toString()}`);
  return out;
}

export function webAssets(): { js: string; css: string } {
  const js = bundleScript(fileURLToPath(new URL("./app.ts", import.meta.url)));
  const css = readFileSync(fileURLToPath(new URL("./styles.css", import.meta.url)), "utf8");
  return { js, css };
}
