import * as R from "../protocol/response-schemas";
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolOptions, protocolRoute } from "./protocol-route";
import { TransferCreateRequest, TransferWebhookRequest } from "../protocol/schemas";
import { transferCreate } from "../flows/inbound-transfer";
import { transferWebhook } from "../flows/inbound-proof";

/** §9.7 and §9.8. */
export function transferRoutes(gw: Gateway) {
  const base = gw.config.basePath;
  return new Elysia({ name: "oc-transfers" })
    .post(
      `${base}/transfer/create`,
      protocolRoute(gw, TransferCreateRequest, ({ caller, body, raw, headers }) =>
        transferCreate(gw, caller, body, raw, headers),
      ),
      protocolOptions(TransferCreateRequest, "Move money out of the caller's account at this gateway (SPEC §9.7)", {
        description:
          "Debits `peer:<caller>` and credits one of our users (`to.ocid` = ours, `to.reference` = `user_<id>`) or " +
          "another peer. " +
          "Send an `Idempotency-Key` header to retry safely: the same key and body answer the same proof for 24 h.",
        response: R.TransferCreateResponse,
        errors: [
          "UNAUTHORIZED",
          "INVALID_REQUEST",
          "INVALID_AMOUNT",
          "SETTLEMENT_NOT_SUPPORTED",
          "ACCOUNT_NOT_FOUND",
          "INSUFFICIENT_FUNDS",
          "INVALID_STATE",
        ],
      }),
    )
    .post(
      `${base}/transfer/webhook`,
      protocolRoute(gw, TransferWebhookRequest, async ({ caller, body }) => ({
        body: await transferWebhook(gw, caller, body),
      })),
      protocolOptions(TransferWebhookRequest, "Deliver a proof of a transfer that involves this gateway (SPEC §9.8)", {
        description:
          "The issuer delivers its own signed proof; idempotent on (issuer, txid). A credit we cannot apply is " +
          "answered `rejected` with a message.",
        response: R.TransferWebhookResponse,
        errors: ["INVALID_PROOF", "PROOF_SIGNATURE_INVALID", "ISSUER_NOT_ACCEPTED"],
      }),
    );
}
