#!/usr/bin/env bun
// Entry point of `bun run start`, `bun run oc -- <command>` and the compiled binary.
import { runCli } from "./cli/run";

const code = await runCli(process.argv.slice(2));
if (code !== undefined) process.exit(code);
