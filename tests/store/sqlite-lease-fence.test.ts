// Issue 18 item 2 on SQLite: a lease ends on the gateway's clock (the `now` every leased write, renewal and check
// is given), so a run whose lease ran out writes nothing even while no other claimer has taken the row yet; the
// row is then claimable, by another owner or its own (a single node must not wait for a second one). The last
// second of a lease is still the holder's (the claim and the fence are exact complements).
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { createStore } from "../../src/store";

test("after its lease's end a holder's writes, renewal and check fail; the row is free to claim again", async () => {
  const store = createStore(openDatabase(join(mkdtempSync(join(tmpdir(), "oc-fence-")), "g.sqlite"), "NORMAL"));
  const id = await store.transaction((tx) =>
    tx.deliveries.enqueue({ orderId: null, target: 7001, txid: "tx-f", body: "{}", now: 1000 }),
  );
  const owner = "n1:inc:a";
  const attempt = (now: number) => ({
    started: now,
    state: "retry" as const,
    attempts: 1,
    windowStart: 1000,
    nextAt: now + 60,
    httpStatus: 503,
    latency: 1,
    error: "busy",
    reply: null,
    now,
  });
  const answers = await store.transaction(async (tx) => ({
    claimed: (await tx.leases.claim("deliveries", owner, 1030, 1000, 5)).length,
    stillMine: await tx.leases.holds("deliveries", id, owner, 1030),
    retakenEarly: (await tx.leases.claim("deliveries", "n2:inc:b", 1060, 1030, 5)).length,
    holdsLate: await tx.leases.holds("deliveries", id, owner, 1031),
    renewedLate: await tx.leases.renew("deliveries", owner, [id], 1061, 1031),
    writtenLate: await tx.deliveries.recordAttempt(id, owner, attempt(1031)),
    retakenByItsOwner: (await tx.leases.claim("deliveries", owner, 1061, 1031, 5)).length,
    // Control: the very write that was refused at 1031 goes through under the lease it now has again.
    writtenUnderLease: await tx.deliveries.recordAttempt(id, owner, attempt(1032)),
  }));
  expect(answers).toEqual({
    claimed: 1,
    stillMine: true,
    retakenEarly: 0,
    holdsLate: false,
    renewedLate: [],
    writtenLate: false,
    retakenByItsOwner: 1,
    writtenUnderLease: true,
  });
  // A row in flight on its owner's node is never claimed again by that node, lease or not.
  const { id2, taken } = await store.transaction(async (tx) => {
    const id2 = await tx.deliveries.enqueue({ orderId: null, target: 7001, txid: "tx-g", body: "{}", now: 2000 });
    const rows = await tx.leases.claim("deliveries", owner, 2030, 2000, 5, [id2]);
    return { id2, taken: rows.map((r) => (r as { id: string }).id) };
  });
  expect(taken).toEqual([id]);
  expect(taken).not.toContain(id2);
  store.close();
});
