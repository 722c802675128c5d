// Group commit's HTTP side (issue 20, src/store/durability.ts): no response leaves before every commit made so far
// is on stable storage, whether the request wrote or only read (it may have read another request's commit). When
// nothing is pending this is one `total_changes()` read and a resolved promise. One kind of answer is let out
// first: a fresh pay code (answerBeforeDurable).
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

/** Requests whose success answer does not wait for the barrier (answerBeforeDurable). */
const early = new WeakSet<Request>();

/**
 * Lets this request's success answer leave before its commit's fsync completes (the fsync still runs at once, see
 * syncSoon). Only for an answer that hands out something new and reveals nothing another request committed: a pay
 * code (POST /app/pay). Safe because nobody can act on the code before it is durable: a merchant's submit to it
 * claims the session in a later commit, whose frames follow the session's in the -wal, and the submit's own answer
 * waits for the fsync that covers both. What a crash in that window (~1 ms, while the user is still looking at the
 * screen) can lose is a code no merchant has scanned yet, which then answers SESSION_NOT_FOUND like an expired one.
 * Errors still wait: the error path is not told apart. (While storage is failing, a code is still handed out; a
 * submit to it answers 500 like every other request then.)
 */
export function answerBeforeDurable(request: Request): void {
  early.add(request);
}

/**
 * An early answer's commit still gets its fsync at once: the one started at COMMIT may have been another commit's,
 * already running, which does not cover it; waiting here (unawaited) runs the next round as soon as that one ends,
 * instead of whenever the next request waits. A failure is kept by the group commit for the requests that wait.
 */
const syncSoon = (): undefined => void durable().catch(() => {});

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
    .onAfterHandle({ as: "global" }, ({ request }) => (early.has(request) ? syncSoon() : barrier()))
    .onError({ as: "global" }, barrier);
}
