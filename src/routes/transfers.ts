import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolRoute } from "../http/protocol-route";
import { TransferCreateRequest, TransferWebhookRequest } from "../protocol/schemas";
import { transferCreate } from "../flows/inbound-transfer";
import { transferWebhook } from "../flows/inbound-proof";

/** §9.7 and §9.8. */
export function transferRoutes(gw: Gateway) {
  const base = gw.config.basePath;
  return new Elysia({ name: "oc-transfers" })
    .post(
      `${base}/transfer/create`,
      protocolRoute(gw, TransferCreateRequest, ({ caller, body, raw, headers }) => transferCreate(gw, caller, body, raw, headers)),
      { parse: "none" },
    )
    .post(
      `${base}/transfer/webhook`,
      protocolRoute(gw, TransferWebhookRequest, ({ caller, body }) => ({ body: transferWebhook(gw, caller, body) })),
      { parse: "none" },
    );
}
