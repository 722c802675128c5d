import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolOptions, protocolRoute } from "../http/protocol-route";
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
      protocolOptions(TransferCreateRequest, "Move money out of the caller's account at this gateway (SPEC §9.7)"),
    )
    .post(
      `${base}/transfer/webhook`,
      protocolRoute(gw, TransferWebhookRequest, ({ caller, body }) => ({ body: transferWebhook(gw, caller, body) })),
      protocolOptions(TransferWebhookRequest, "Deliver a proof of a transfer that involves this gateway (SPEC §9.8)"),
    );
}
