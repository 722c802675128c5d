// Group commit's HTTP side (issue 20, src/store/durability.ts): no response leaves before every commit made so far
// is on stable storage, whether the request wrote or only read (it may have read another request's commit). When
// nothing is pending this is one `total_changes()` read and a resolved promise.
import { Elysia } from "elysia";
import { durable } from "../store/durability";
import type { Logger } from "../log";
import { errorResponse } from "./responses";
import { ProtocolError } from "../protocol/errors";

const notDurable = () =>
  errorResponse(
    new ProtocolError(
      "INTERNAL_ERROR",
      "Storage failed to sync to disk: this request's outcome is unknown, check its status before retrying",
      {
        reason: "storage_sync_failed",
      },
    ),
  );

export function durableAnswers(log: Pick<Logger, "error">) {
  const barrier = async (): Promise<Response | undefined> => {
    try {
      await durable();
      return undefined;
    } catch (e) {
      log.error("fsync of the database log failed: answering 500 until storage recovers", { error: String(e) });
      return notDurable();
    }
  };
  // onError returns nothing once durable, so the error handler after it still writes the error body.
  return new Elysia({ name: "oc-durable-answers" })
    .onAfterHandle({ as: "global" }, barrier)
    .onError({ as: "global" }, barrier);
}
