// A response checked against the TypeBox schema its route documents (src/app/schemas.ts): errors listed, none expected.
import { expect } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { TSchema } from "@sinclair/typebox";

export function expectConforms(schema: TSchema, value: unknown, what: string): void {
  const errors = [...TypeCompiler.Compile(schema).Errors(value)].slice(0, 3).map((e) => `${e.path} ${e.message}`);
  expect({ what, errors }).toEqual({ what, errors: [] });
}
