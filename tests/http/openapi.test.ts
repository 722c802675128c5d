// Issue 7: the OpenAPI document validates, lists every route, and documents the schemas the routes really use.
import { afterAll, beforeAll, expect, test } from "bun:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { startTestGateway, type TestGateway } from "../helpers/gateway";
import { createApp } from "../../src/routes/server";
import { SubmitOrderRequest, TransferCreateRequest } from "../../src/protocol/schemas";

let tg: TestGateway;
beforeAll(async () => {
  tg = await startTestGateway({ demoMode: true });
});
afterAll(() => tg.close());

test("openapi.json is a valid OpenAPI 3.1 document", async () => {
  const doc = await (await fetch(`${tg.url}/opencharge/openapi.json`)).json();
  expect(doc.openapi).toBe("3.1.0");
  await SwaggerParser.validate(structuredClone(doc));
});

test("it lists every registered route, and protocol bodies are the schemas the routes validate with", async () => {
  const doc = await (await fetch(`${tg.url}/opencharge/openapi.json`)).json();
  const app = createApp(tg.gw) as unknown as { routes: { method: string; path: string }[] };
  for (const r of app.routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const method = r.method === "WS" ? "get" : r.method.toLowerCase();
    expect(doc.paths[path]?.[method]).toBeDefined();
  }
  const plain = (s: unknown) => JSON.parse(JSON.stringify(s));
  expect(doc.paths["/opencharge/orders/create/{sessionId}"].post.requestBody.content["application/json"].schema).toEqual(plain(SubmitOrderRequest));
  expect(doc.paths["/opencharge/transfer/create"].post.requestBody.content["application/json"].schema).toEqual(plain(TransferCreateRequest));
  const headers = doc.paths["/opencharge/capabilities"].get.parameters.map((p: { name: string }) => p.name);
  expect(headers).toEqual(["X-OC-ID", "X-OC-Timestamp", "X-OC-Nonce", "X-OC-Signature"]);
  expect(doc.paths["/app/history"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["before", "limit"]);
  expect(doc.paths["/app/demo/login"].post.requestBody).toBeDefined();
  const page = await fetch(`${tg.url}/opencharge/docs`);
  expect(page.headers.get("content-type")).toContain("text/html");
});
