// The store port's contract (issue 14 item 3): what any engine behind `store.transaction` must do. Each engine in
// ENGINES runs the same suite: bun:sqlite, and PostgreSQL through Bun.SQL (issue 18) when OC_TEST_DATABASE_URL
// names a server (CI starts one). The suite goes through the port only (`transaction`/`read`), so both engines run
// it unchanged; where they rightly differ (SQLite runs transactions one at a time, Postgres concurrently) the
// engine says so and the test checks what must hold for it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Changes, Database, Statement } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db";
import { createStore, type Repositories, type Tx } from "../../src/store";
import { NestedTransaction, TransactionClosed } from "../../src/store/port";
import { ConnectionBusy } from "../../src/store/sqlite-engine";
import type { StorePort } from "../../src/store/port";
import { postgresStore } from "../../src/store/postgres/engine";
import type { PostgresTx } from "../../src/store/postgres/repositories";
import { migratePostgres } from "../../src/store/postgres/schema";
import { SQL } from "bun";
import { freshDatabase, postgresAvailable } from "../helpers/postgres";
import { IoInsideTransaction } from "../../src/store/transaction-context";
import { fetchLimited } from "../../src/peers/fetch-limited";
import { InsufficientFunds, isBalanceOverflow } from "../../src/store/ledger";
import { isUniqueViolation } from "../../src/store/constraint";
import type { NewOrder } from "../../src/store/orders";

/** What the suite uses of the port: the repositories both engines implement (the Postgres engine's so far). */
type ContractTx = PostgresTx;
type ContractStore = StorePort<ContractTx> & { close(): void | Promise<void> };
/** `serialises`: transactions run one at a time (SQLite's one connection); otherwise they overlap (Postgres). */
type Engine = { name: string; serialises: boolean; open: () => ContractStore | Promise<ContractStore> };

const openSqlite = () =>
  createStore(openDatabase(join(mkdtempSync(join(tmpdir(), "oc-contract-")), "g.sqlite"), "NORMAL"));

const ENGINES: Engine[] = [
  { name: "sqlite", serialises: true, open: openSqlite },
  ...(postgresAvailable("contract.test.ts on PostgreSQL")
    ? [
        {
          name: "postgres",
          serialises: false,
          open: async (): Promise<ContractStore> => {
            const db = await freshDatabase("contract");
            await migratePostgres(db.sql);
            const store = postgresStore(new SQL(db.url, { bigint: true, max: 8 }));
            return {
              ...store,
              close: async () => {
                await store.close();
                await db.drop();
              },
            };
          },
        },
      ]
    : []),
];

const CONCURRENT = 12;
const INT64_MAX = 2n ** 63n - 1n;
const ABOVE_DOUBLE_PRECISION = 2n ** 53n + 1n;
/** A timestamp no other test of this file writes at. */
const MONEY_AT = 1_000_000;
const FETCH_OPTS = { timeoutMs: 2000, maxBytes: 1024 };

/** Lets every other ready task (timers and I/O included) run, so a non-serialised engine would interleave. */
const yieldToEventLoop = () => new Promise<void>((r) => setTimeout(r, 1));

/**
 * Record parity: the SQLite engine runs first and leaves what it answered; the Postgres engine must answer the same
 * (same fields, numbers where SQLite gives numbers, bigint where it gives bigint, null where it gives null). Random
 * ids (user ids, tokens, job and delivery ids) are replaced by their first-seen position, so only shapes, values
 * and order are compared.
 */
const sqliteAnswers = new Map<string, unknown>();
function comparable(v: unknown): unknown {
  const seen = new Map<string, string>();
  const scrub = (s: string) =>
    s.replace(/[0-9a-f]{20,}/g, (h) => {
      if (!seen.has(h)) seen.set(h, `<id${seen.size}>`);
      return seen.get(h)!;
    });
  const walk = (x: unknown): unknown => {
    if (typeof x === "bigint") return { bigint: String(x) };
    if (typeof x === "string") return scrub(x);
    if (x instanceof Set) return { set: [...x].map(walk) };
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === "object") {
      if (Object.getPrototypeOf(x) !== Object.prototype) return { notPlain: String(x) };
      return Object.fromEntries(
        Object.entries(x).map(([k, y]) => [k, y === undefined ? { undefined: true } : walk(y)]),
      );
    }
    return x;
  };
  return walk(v);
}
function sameOnEveryEngine(engine: Engine, key: string, value: unknown): void {
  if (engine.name === "sqlite") sqliteAnswers.set(key, comparable(value));
  else if (sqliteAnswers.has(key)) expect(comparable(value)).toStrictEqual(sqliteAnswers.get(key)!);
}

/** Settles every promise; the fulfilled values and the rejections, apart. */
async function outcomes<T>(ps: Promise<T>[]): Promise<{ values: T[]; errors: unknown[] }> {
  const all = await Promise.allSettled(ps);
  return {
    values: all.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
    errors: all.flatMap((r) => (r.status === "rejected" ? [r.reason] : [])),
  };
}

/**
 * Order row ids as "<order>": an identity sequence is not transactional on Postgres, so an insert that rolled back
 * (the duplicate-order test) leaves a gap SQLite's AUTOINCREMENT does not. Ids stay unique and increasing on both.
 */
const orderRowAs = <T extends object | null | undefined>(r: T, row: number): T =>
  r && ({ ...r, ...("order_id" in r ? { order_id: r.order_id === row ? "<order>" : r.order_id } : {}) } as T);

const hex32 = (n: number) => n.toString(16).padStart(32, "0");
const newOrder = (o: Partial<NewOrder> & Pick<NewOrder, "sessionId" | "orderId">): NewOrder => ({
  callerOcid: 5001,
  merchantOcid: 5001,
  orderJson: `{"id":"${o.orderId}"}`,
  signature: "sig",
  sigForm: "deep",
  urlsJson: "{}",
  amount: "12.34",
  amountMinor: 1234n,
  currency: "EUR",
  userId: null,
  confirmDeadline: 2000,
  candidates: [{ type: "direct" }],
  now: 1000,
  ...o,
});

// Compile-time half of the contract: nothing engine-specific leaks through the port's repositories.
type EngineTypes = Changes | Statement | Database;
type Leaky<S> = {
  [K in keyof S]: {
    [M in keyof S[K]]: S[K][M] extends (...a: never[]) => infer T
      ? Extract<Awaited<T>, EngineTypes> extends never
        ? never
        : `${K & string}.${M & string}`
      : never;
  }[keyof S[K]];
}[keyof S];
/** Domain-owned and being rewritten in the same issue (src/store/orders.ts); removed from here when it lands. */
type PendingDomainMove = "orders.setSettlement";
const noLeaks: [Exclude<Leaky<Tx>, PendingDomainMove>] extends [never] ? true : Exclude<Leaky<Tx>, PendingDomainMove> =
  true;
void noLeaks;
void (null as unknown as Repositories);

for (const engine of ENGINES) {
  describe(`store port contract: ${engine.name}`, () => {
    let store: ContractStore;
    let server: ReturnType<typeof Bun.serve>;
    /** A balance read through the port (a consistent read of its own). */
    const balance = (account: string) => store.read((tx) => tx.ledger.balance(account, "USD"));
    beforeAll(async () => {
      store = await engine.open();
      server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
    });
    afterAll(async () => {
      server.stop(true);
      await store.close();
    });

    const concurrency = engine.serialises
      ? "concurrent transactions run one at a time, each seeing the commits before it"
      : "concurrent transactions overlap, and no update is lost";
    test(concurrency, async () => {
      let open = 0;
      let most = 0;
      const seen = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.transaction(async (tx) => {
            open++;
            most = Math.max(most, open);
            const before = await tx.ledger.balance("user:serial", "USD");
            await yieldToEventLoop();
            await tx.ledger.move({
              from: "funding",
              to: "user:serial",
              currency: "USD",
              amount: 1n,
              reason: "t",
              now: i,
            });
            const after = await tx.ledger.balance("user:serial", "USD");
            open--;
            return after - before;
          }),
        ),
      );
      if (engine.serialises) {
        expect(most).toBe(1);
        expect(seen).toEqual(Array(CONCURRENT).fill(1n));
      } else {
        // Overlapping for real (a pool), each saw at least its own increment, and every increment landed.
        expect(most).toBeGreaterThan(1);
        for (const d of seen) expect(d).toBeGreaterThanOrEqual(1n);
      }
      expect(await balance("user:serial")).toBe(BigInt(CONCURRENT));
    });

    test("a throw rolls the whole transaction back and reaches the caller unchanged", async () => {
      const boom = new Error("refused after writing");
      const attempt = store.transaction(async (tx) => {
        await tx.ledger.move({
          from: "funding",
          to: "user:rollback",
          currency: "USD",
          amount: 7n,
          reason: "t",
          now: 1,
        });
        await tx.topups.insert({
          id: "topup_rollback",
          userId: "nobody",
          via: 2,
          amount: "1",
          amountMinor: 1n,
          currency: "USD",
          orderJson: "{}",
          now: 1,
        });
        throw boom;
      });
      // A topup for a user that does not exist fails its foreign key first; either way nothing may stay.
      await expect(attempt).rejects.toBeInstanceOf(Error);
      expect(await balance("user:rollback")).toBe(0n);
      expect(await store.read((tx) => tx.topups.byId("topup_rollback"))).toBeNull();
      const refused = store.transaction(async (tx) => {
        await tx.ledger.move({
          from: "funding",
          to: "user:rollback",
          currency: "USD",
          amount: 7n,
          reason: "t",
          now: 1,
        });
        throw boom;
      });
      await expect(refused).rejects.toBe(boom);
      expect(await balance("user:rollback")).toBe(0n);
      // An engine-level refusal (a floored account short) rolls back the same way, and the store stays usable.
      const short = store.transaction(async (tx) => {
        await tx.ledger.move({ from: "funding", to: "user:short", currency: "USD", amount: 5n, reason: "t", now: 1 });
        await tx.ledger.move({
          from: "user:short",
          to: "user:other",
          currency: "USD",
          amount: 6n,
          reason: "t",
          now: 1,
        });
      });
      await expect(short).rejects.toBeInstanceOf(InsufficientFunds);
      expect(await balance("user:short")).toBe(0n);
      expect(await store.transaction(async () => "still usable")).toBe("still usable");
    });

    test("claim-first: of concurrent claims on one idempotency key exactly one wins", async () => {
      const claims = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.transaction(async (tx) => {
            const won = await tx.idempotency.claim(42, "key-1", `hash-${i}`, 100, 3600);
            await yieldToEventLoop();
            if (won) await tx.idempotency.answer(42, "key-1", 200, `answer-${i}`);
            return won;
          }),
        ),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      const winner = claims.indexOf(true);
      expect(await store.read((tx) => tx.idempotency.reply(42, "key-1"))).toEqual({
        bodyHash: `hash-${winner}`,
        status: 200,
        response: `answer-${winner}`,
        createdAt: 100,
      });
      // A claim that rolls back leaves the key free; an expired answer is taken over by the next claim.
      await expect(
        store.transaction(async (tx) => {
          await tx.idempotency.claim(42, "key-2", "h", 100, 3600);
          throw new Error("failed after claiming");
        }),
      ).rejects.toThrow("failed after claiming");
      expect(await store.transaction((tx) => tx.idempotency.claim(42, "key-2", "h", 100, 3600))).toBe(true);
      expect(await store.transaction((tx) => tx.idempotency.claim(42, "key-1", "h", 100 + 3601, 3600))).toBe(true);
    });

    test("claim-first: concurrent admin claims and pending sessions never exceed what is allowed", async () => {
      const admin = await Promise.all(
        Array.from({ length: CONCURRENT }, () =>
          store.transaction((tx) => tx.adminIdempotency.claim("key:ops", "k", "h", 1)),
        ),
      );
      expect(admin.filter(Boolean)).toHaveLength(1);
      const { user } = await store.transaction((tx) => tx.users.create("contract-user", 1));
      const max = 3;
      const created = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            const id = i.toString(16).padStart(32, "0");
            return tx.sessions.insertPendingQr({ id, userId: user.id, createdAt: 10, expiresAt: 100 }, max);
          }),
        ),
      );
      expect(created.filter(Boolean)).toHaveLength(max);
      expect(await store.read((tx) => tx.sessions.pendingCount(user.id, 10))).toBe(max);
      // Expired codes do not count against the limit.
      const later = await store.transaction((tx) =>
        tx.sessions.insertPendingQr({ id: "f".repeat(32), userId: user.id, createdAt: 101, expiresAt: 200 }, max),
      );
      expect(later).toBe(true);
    });

    test("no network I/O inside a transaction: an outbound call throws there and works outside", async () => {
      const url = `http://127.0.0.1:${server.port}/`;
      const inside = store.transaction(async (tx) => {
        await tx.ledger.move({ from: "funding", to: "user:io", currency: "USD", amount: 3n, reason: "t", now: 1 });
        return fetchLimited(url, { method: "GET" }, FETCH_OPTS);
      });
      await expect(inside).rejects.toBeInstanceOf(IoInsideTransaction);
      expect(await balance("user:io")).toBe(0n);
      const outside = await fetchLimited(url, { method: "GET" }, FETCH_OPTS);
      expect(outside.ok && outside.status).toBe(200);
      // Inside a read too; and a promise started in a transaction but awaited after it is no longer inside one.
      await expect(store.read(async () => fetchLimited(url, { method: "GET" }, FETCH_OPTS))).rejects.toBeInstanceOf(
        IoInsideTransaction,
      );
      const later = await store.transaction(async () => () => fetchLimited(url, { method: "GET" }, FETCH_OPTS));
      const res = await later();
      expect(res.ok).toBe(true);
    });

    test("a nested transaction is refused, a dead handle refuses calls, a read refuses writes", async () => {
      await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toBeInstanceOf(NestedTransaction);
      let kept: ContractTx | undefined;
      await store.transaction(async (tx) => {
        kept = tx;
      });
      await expect(kept!.ledger.balance("funding", "USD")).rejects.toBeInstanceOf(TransactionClosed);
      const write = store.read((tx) =>
        tx.ledger.move({ from: "funding", to: "user:read", currency: "USD", amount: 1n, reason: "t", now: 1 }),
      );
      await expect(write).rejects.toThrow();
      expect(await balance("user:read")).toBe(0n);
      expect(await store.transaction(async (tx) => tx.ledger.balance("user:read", "USD"))).toBe(0n);
    });

    test("users and tokens: the same records on both engines; a taken name is a unique violation", async () => {
      const made = await store.transaction(async (tx) => {
        const alice = await tx.users.create("alice", 100, 3600);
        const bob = await tx.users.create("bob", 101);
        const session = await tx.tokens.issue(alice.user.id, 100, {
          kind: "session",
          ttl: 600,
          idleTimeout: 120,
          origin: "https://wallet.example",
          passkeyId: "pk-1",
        });
        return { alice, bob, session };
      });
      const { alice, bob, session } = made;
      const dup = store.transaction((tx) => tx.users.create("alice", 102));
      const e = await dup.then(
        () => null,
        (err: unknown) => err,
      );
      expect(isUniqueViolation(e, "app_users", ["name"])).toBe(true);
      const answers = await store.transaction(async (tx) => ({
        byName: await tx.users.byName("alice"),
        byId: await tx.users.byId(bob.user.id),
        missing: await tx.users.byId("nobody"),
        firstPage: (await tx.users.page(0, 100)).filter((u) => u.createdAt >= 100),
        frozen: [await tx.users.setFrozen(bob.user.id, 150), await tx.users.setFrozen(bob.user.id, 151)],
        frozenAt: await tx.users.frozenAt(bob.user.id),
        ocid: [await tx.users.setOcid(alice.user.id, 7007), await tx.users.byOcid(7007)],
        used: await tx.tokens.use(session.token, 150),
        operator: await tx.tokens.use(alice.token, 200),
        idleExpired: await tx.tokens.use(session.token, 150 + 121),
        notAToken: await tx.tokens.use("zz", 150),
        live: await tx.tokens.liveHashes([session.hash, "0".repeat(64)], 160),
        isLive: await tx.tokens.isLive(session.hash, 160),
        revokedByPasskey: await tx.tokens.revokeByPasskey("pk-1", 170),
        afterRevoke: await tx.tokens.use(session.token, 171),
        revoke: await tx.tokens.revoke(session.hash, 172),
      }));
      expect(answers.frozen).toEqual([true, false]);
      expect(answers.used?.grant.kind).toBe("session");
      expect(answers.idleExpired).toBeNull();
      expect(answers.afterRevoke).toBeNull();
      // Pages walk every user once, in creation order, whatever the cursor is made of.
      const walked: string[] = [];
      for (let after = 0; ; ) {
        const page = await store.read((tx) => tx.users.page(after, 1));
        if (page.length === 0) break;
        walked.push(page[0]!.name);
        after = page[0]!.cursor;
      }
      expect(walked.slice(-2)).toEqual(["alice", "bob"]);
      const rotated = await store.transaction((tx) => tx.users.rotateToken(alice.user.id, 300));
      expect(await store.read((tx) => tx.tokens.use(alice.token, 301))).toBeNull();
      expect((await store.read((tx) => tx.tokens.use(rotated, 301)))?.user.id).toBe(alice.user.id);
      sameOnEveryEngine(engine, "users", answers);
    });

    test("orders: §11.1 moves are conditional; of two concurrent confirms of one order exactly one wins", async () => {
      const { user } = await store.transaction((tx) => tx.users.create("payer", 900));
      const { user: other } = await store.transaction((tx) => tx.users.create("other-payer", 900));
      const sessionId = hex32(0xa1);
      const id = await store.transaction(async (tx) => {
        await tx.sessions.insert({
          id: sessionId,
          kind: "checkout",
          user_id: null,
          status: "pending",
          created_at: 1000,
          expires_at: 3000,
        });
        const row = await tx.orders.insert(
          newOrder({ sessionId, orderId: "ord-1", amountMinor: ABOVE_DOUBLE_PRECISION }),
        );
        await tx.merchants.remember(row, { name: "Shop", endpoint: "https://shop.example:8443/opencharge" });
        await tx.merchants.remember(row, { name: "Shop 2", endpoint: "not a url" });
        return row;
      });
      expect(typeof id).toBe("number");
      // An active order with the same (merchant, order id) is refused by the unique index, mapped by constraint.
      const again = await store
        .transaction((tx) => tx.orders.insert(newOrder({ sessionId, orderId: "ord-1" })))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(isUniqueViolation(again, "orders", ["merchant_ocid", "order_id"])).toBe(true);
      const confirms = await Promise.all(
        [user.id, other.id, user.id, other.id].map((userId) =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return tx.orders.move(id, { event: "confirm", userId }, 1500);
          }),
        ),
      );
      expect(confirms.filter(Boolean)).toHaveLength(1);
      const answers = await store.transaction(async (tx) => {
        const confirmed = await tx.orders.byId(id);
        return {
          confirmed: { ...confirmed, id: "<order>", user_id: "<winner>" },
          declineAfterConfirm: await tx.orders.move(id, { event: "decline", userId: user.id }, 1501),
          settle: await tx.orders.move(id, { event: "settle", proofJson: "{}", signature: "s", txid: "t-1" }, 1502),
          settleTwice: await tx.orders.move(
            id,
            { event: "settle", proofJson: "{}", signature: "s", txid: "t-2" },
            1503,
          ),
          paid: { ...(await tx.orders.bySession(sessionId)), id: "<order>", user_id: "<winner>" },
          forCaller: (await tx.orders.latestForCaller(5001, "ord-1"))?.id === id,
          missing: await tx.orders.byId(999_999),
          merchant: await tx.merchants.get(id),
          noMerchant: await tx.merchants.get(999_999),
        };
      });
      expect(answers.paid?.status).toBe("paid");
      expect(answers.paid?.amount_minor).toBe(ABOVE_DOUBLE_PRECISION);
      expect(answers.settleTwice).toBe(false);
      // Expiry: only orders still awaiting confirmation past their deadline, each once.
      const late = await store.transaction(async (tx) => {
        const s2 = hex32(0xa2);
        await tx.sessions.insert({
          id: s2,
          kind: "qr",
          user_id: user.id,
          status: "pending",
          created_at: 1000,
          expires_at: 3000,
        });
        const o2 = await tx.orders.insert(newOrder({ sessionId: s2, orderId: "ord-2", userId: user.id }));
        return { o2, awaiting: (await tx.orders.awaitingForUser(user.id, 1999)).map((o) => o.order_id) };
      });
      const expired = await Promise.all([0, 1].map(() => store.transaction((tx) => tx.orders.expireDue(2001))));
      expect(expired.flat().map((r) => r.id)).toEqual([late.o2]);
      expect(late.awaiting).toEqual(["ord-2"]);
      sameOnEveryEngine(engine, "orders", {
        answers,
        awaiting: late.awaiting,
        expired: expired.flat().map((r) => ({ ...r, id: "<o2>", user_id: r.user_id === user.id })),
      });
    });

    test("jobs and leases: of concurrent claims of a due job one wins; leased writes are fenced by owner", async () => {
      const { jobId, orderRow } = await store.transaction(async (tx) => {
        const s = hex32(0xb1);
        await tx.sessions.insert({
          id: s,
          kind: "checkout",
          user_id: null,
          status: "pending",
          created_at: 1,
          expires_at: 9,
        });
        const row = await tx.orders.insert(newOrder({ sessionId: s, orderId: "job-order", currency: "JPY" }));
        const { user } = await tx.users.create("job-payer", 999);
        await tx.orders.move(row, { event: "confirm", userId: user.id }, 1000);
        return { orderRow: row, jobId: await tx.jobs.enqueueSettlement(row, [{ type: "direct" }], 1000, 5000) };
      });
      const claims = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return tx.leases.claim("jobs", `node-${i}`, 1030, 1000, 5);
          }),
        ),
      );
      const won = claims.flatMap((rows, i) => rows.map((r) => ({ owner: `node-${i}`, row: r as { id: string } })));
      expect(won.map((w) => w.row.id)).toEqual([jobId]);
      const owner = won[0]!.owner;
      const thief = owner === "node-0" ? "node-1" : "node-0";
      const step = { step: "direct.credit", stepData: '{"a":1}', pinned: true, now: 1001 };
      const answers = await store.transaction(async (tx) => ({
        claimedRow: orderRowAs(
          { ...(won[0]!.row as object), lease_owner: "<owner>", lease_until: "<lease>" },
          orderRow,
        ),
        advanceByThief: await tx.jobs.advance(jobId, thief, step),
        advance: await tx.jobs.advance(jobId, owner, step),
        finishByThief: await tx.jobs.finish(jobId, thief, "done", null, 1002),
        owners: (await tx.leases.owners("jobs")).map((o) => (o === owner ? "<owner>" : o)),
        retry: await tx.jobs.retryLater(jobId, owner, { pinned: true, at: 1100, reason: "peer busy", now: 1003 }),
        releasedNow: await tx.jobs.release(jobId, owner),
        notDueYet: await tx.leases.claim("jobs", thief, 1030, 1050, 5),
        waiting: (await tx.jobs.waitingForProof("JPY")).map((j) =>
          orderRowAs({ ...j, oid: j.oid === orderRow }, orderRow),
        ),
        byOrder: orderRowAs(await tx.jobs.byOrder(orderRow), orderRow),
        advanceByProof: await tx.jobs.advanceByProof(jobId, "direct.credit", { ...step, now: 1004 }),
        advanceByProofStale: await tx.jobs.advanceByProof(jobId, "transfer.create", { ...step, now: 1005 }),
      }));
      expect(answers.advanceByThief).toBe(false);
      expect(answers.advance).toBe(true);
      expect(answers.finishByThief).toBe(false);
      expect(answers.notDueYet).toEqual([]);
      // Due again: another node claims it; the first owner's late writes change nothing.
      const [retaken] = await store.transaction((tx) => tx.leases.claim("jobs", thief, 2030, 2000, 5));
      expect((retaken as { id: string }).id).toBe(jobId);
      const late = await store.transaction(async (tx) => ({
        finishLate: await tx.jobs.finish(jobId, owner, "failed", "late", 2001),
        nextPathLate: await tx.jobs.nextPath(jobId, owner, {
          index: 1,
          step: "transfer.create",
          reason: "x",
          now: 2001,
        }),
        fault: await tx.leases.releaseAfterFault("jobs", jobId, thief, 2100),
        due: await tx.leases.nextDue(),
      }));
      expect(late).toMatchObject({ finishLate: false, nextPathLate: false, fault: true });
      expect(late.due).not.toBeNull();
      const [third] = await store.transaction((tx) => tx.leases.claim("jobs", owner, 2130, 2100, 5));
      const end = await store.transaction(async (tx) => ({
        finish: await tx.jobs.finish(jobId, owner, "in_review", null, 2101),
        markDone: await tx.jobs.markDone(jobId, 2102),
        job: await tx.jobs.byId(jobId),
        missing: await tx.jobs.byId("nope"),
        refunded: await tx.jobs.refundedByOperator(jobId, 2103),
      }));
      expect((third as { id: string }).id).toBe(jobId);
      expect(end.finish).toBe(true);
      expect(end.job?.state).toBe("done");
      expect(typeof end.job?.attempts).toBe("number");
      sameOnEveryEngine(engine, "jobs", {
        answers,
        late: { ...late, due: null },
        end: { ...end, job: orderRowAs(end.job, orderRow) },
      });
    });

    test("scheduler lease: one holder at a time; taken over when expired, given up on release", async () => {
      const answers = await store.transaction(async (tx) => ({
        none: await tx.leases.schedulerLeaseHolder(),
        a: await tx.leases.takeSchedulerLease("a", 130, 100, false),
        b: await tx.leases.takeSchedulerLease("b", 131, 101, false),
        renew: await tx.leases.takeSchedulerLease("a", 140, 110, false),
        holder: await tx.leases.schedulerLeaseHolder(),
        takeover: await tx.leases.takeSchedulerLease("b", 150, 120, true),
        expired: await tx.leases.takeSchedulerLease("a", 200, 151, false),
      }));
      await store.transaction((tx) => tx.leases.releaseAll("a"));
      const after = await store.read((tx) => tx.leases.schedulerLeaseHolder());
      expect(answers).toMatchObject({ none: null, a: true, b: false, renew: true, takeover: true, expired: true });
      expect(after).toBeNull();
      sameOnEveryEngine(engine, "scheduler-lease", answers);
    });

    test("nonces: of concurrent records of one nonce one is fresh; replays refused until retention ends", async () => {
      const WINDOW = 300;
      const firsts = await Promise.all(
        Array.from({ length: CONCURRENT }, () =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return tx.nonces.record(77, "n-1", 1000, WINDOW);
          }),
        ),
      );
      expect(firsts.filter(Boolean)).toHaveLength(1);
      const later = await store.transaction(async (tx) => ({
        replayAtEdge: await tx.nonces.record(77, "n-1", 1000 + 2 * WINDOW, WINDOW),
        otherPeer: await tx.nonces.record(78, "n-1", 1000, WINDOW),
        pruneEarly: await tx.nonces.prune(1000),
        afterRetention: await tx.nonces.record(77, "n-1", 1000 + 2 * WINDOW + 6, WINDOW),
        prune: await tx.nonces.prune(1000 + 2 * WINDOW + 6 + 1),
      }));
      expect(later).toEqual({ replayAtEdge: false, otherPeer: true, pruneEarly: 0, afterRetention: true, prune: 1 });
    });

    test("proofs: a txid is used once even when two transactions race for it", async () => {
      const claim = (i: number) =>
        store.transaction(async (tx) => {
          if (await tx.proofs.received(9, "tx-race")) return "taken";
          await yieldToEventLoop();
          await tx.proofs.insertReceived({
            issuer: 9,
            txid: "tx-race",
            document: `{"n":${i}}`,
            signature: "s",
            sigForm: "deep",
            outcome: "paid",
            replyJson: null,
            jobId: `job-${i}`,
            now: 10,
          });
          return `fresh-${i}`;
        });
      const { values, errors } = await outcomes(Array.from({ length: 6 }, (_, i) => claim(i)));
      const fresh = values.filter((v) => v.startsWith("fresh"));
      expect(fresh).toHaveLength(1);
      // A loser either saw the row (one writer at a time) or lost the primary key race and rolled back whole.
      for (const e of errors) expect(isUniqueViolation(e, "received_proofs")).toBe(true);
      expect(values.length + errors.length).toBe(6);
      const use = await store.transaction(async (tx) => {
        await tx.proofs.recordWebhookReply({
          issuer: 9,
          txid: "tx-race",
          document: "{}",
          signature: "s",
          sigForm: "deep",
          outcome: "rejected",
          replyJson: '{"status":"rejected"}',
          now: 11,
        });
        await tx.proofs.updateReceived({
          issuer: 9,
          txid: "tx-race",
          document: "{}",
          signature: "s2",
          sigForm: "replacer",
          outcome: "paid",
        });
        await tx.proofs.insertIssued({
          txid: "ours-1",
          proofJson: "{}",
          signature: "s",
          canonical: "c",
          orderId: null,
          now: 12,
        });
        return { use: await tx.proofs.received(9, "tx-race"), none: await tx.proofs.received(9, "tx-none") };
      });
      expect(use.use?.job_id).toBe(`job-${fresh[0]!.slice("fresh-".length)}`);
      sameOnEveryEngine(engine, "proofs", { ...use, use: { ...use.use, job_id: "<winner>" } });
    });

    test("proofs: claim-first — of concurrent claims of one txid exactly one wins and none fails", async () => {
      const row = (i: number, jobId: string | null) => ({
        issuer: 9,
        txid: "tx-claim",
        document: `{"n":${i}}`,
        signature: "s",
        sigForm: "deep",
        outcome: jobId ? "settlement" : "pending",
        replyJson: null,
        jobId,
        now: 20,
      });
      const claims = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return tx.proofs.claimReceived(row(i, null));
          }),
        ),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      // The claimed, unanswered row takes the webhook's answer once; a job's row never takes one.
      const reply = (txid: string, status: string) => ({
        ...row(0, null),
        txid,
        outcome: status,
        replyJson: JSON.stringify({ status }),
        now: 21,
      });
      const after = await store.transaction(async (tx) => {
        await tx.proofs.recordWebhookReply(reply("tx-claim", "accepted"));
        await tx.proofs.recordWebhookReply(reply("tx-claim", "rejected"));
        const job = await tx.proofs.claimReceived({ ...row(1, "job-x"), txid: "tx-job" });
        await tx.proofs.recordWebhookReply(reply("tx-job", "accepted"));
        return {
          job,
          again: await tx.proofs.claimReceived({ ...row(2, "job-y"), txid: "tx-job" }),
          credit: await tx.proofs.received(9, "tx-claim"),
          owned: await tx.proofs.received(9, "tx-job"),
        };
      });
      expect(after).toEqual({
        job: true,
        again: false,
        credit: { job_id: null, reply_json: '{"status":"accepted"}', outcome: "accepted" },
        owned: { job_id: "job-x", reply_json: null, outcome: "settlement" },
      });
    });

    test("ledger: a refused movement leaves its transaction usable; the books reconcile", async () => {
      const answers = await store.transaction(async (tx) => {
        await tx.ledger.move({ from: "funding", to: "user:l1", currency: "CHF", amount: 5n, reason: "t", now: 1 });
        const short = await tx.ledger
          .move({ from: "user:l1", to: "user:l2", currency: "CHF", amount: 6n, reason: "t", now: 1 })
          .then(
            () => null,
            (e: unknown) => e,
          );
        const moved = await tx.ledger.move({
          from: "user:l1",
          to: "user:l2",
          currency: "CHF",
          amount: 5n,
          reason: "t",
          now: 1,
        });
        return {
          short: short instanceof InsufficientFunds ? (short as InsufficientFunds).account : short,
          moved: typeof moved,
          balances: await tx.ledger.balances("user:l2"),
          has: [await tx.ledger.hasAccount("user:l1", "CHF"), await tx.ledger.hasAccount("user:l1", "XXX")],
          absent: await tx.ledger.balance("user:none", "CHF"),
        };
      });
      expect(answers.short).toBe("user:l1");
      // Past the 64-bit range: refused as a balance overflow on both engines (a CHECK on SQLite, a condition here).
      const over = store.transaction(async (tx) => {
        await tx.ledger.move({
          from: "external:3",
          to: "user:full",
          currency: "CHF",
          amount: INT64_MAX,
          reason: "t",
          now: 1,
        });
        await tx.ledger.move({ from: "funding", to: "user:full", currency: "CHF", amount: 1n, reason: "t", now: 1 });
      });
      const e = await over.then(
        () => null,
        (err: unknown) => err,
      );
      expect(isBalanceOverflow(e)).toBe(true);
      expect(await balance("user:full")).toBe(0n);
      const books = await store.read(async (tx) => ({
        full: await tx.ledger.check(),
        quick: await tx.ledger.checkBalances(),
      }));
      expect(books.full).toEqual({ ok: true, problems: [] });
      expect(books.quick).toEqual({ ok: true, problems: [] });
      sameOnEveryEngine(engine, "ledger", answers);
    });

    test("sessions: single use under concurrency; cancel, open codes and binding as on SQLite", async () => {
      const { user } = await store.transaction((tx) => tx.users.create("session-user", 1));
      const id = hex32(0xc1);
      await store.transaction((tx) =>
        tx.sessions.insert({ id, kind: "checkout", user_id: null, status: "pending", created_at: 10, expires_at: 100 }),
      );
      const claims = await Promise.all(
        Array.from({ length: CONCURRENT }, () =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return tx.sessions.claim(id, 50);
          }),
        ),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      const answers = await store.transaction(async (tx) => {
        await tx.sessions.bindUser(id, user.id);
        await tx.sessions.bindUser(id, "someone-else");
        for (const n of [1, 2, 3])
          await tx.sessions.insertPendingQr(
            { id: hex32(0xc10 + n), userId: user.id, createdAt: 10 + n, expiresAt: 100 },
            5,
          );
        return {
          used: await tx.sessions.get(id),
          invalid: await tx.sessions.get("not-a-session"),
          unknown: await tx.sessions.get(hex32(0xdead)),
          cancelOther: await tx.sessions.cancel(hex32(0xc11), "someone-else"),
          cancel: await tx.sessions.cancel(hex32(0xc11), user.id),
          open: await tx.sessions.open(user.id, 20),
          cancelOpen: await tx.sessions.cancelOpen(user.id),
          pending: await tx.sessions.pendingCount(user.id, 20),
        };
      });
      expect(answers.used?.user_id).toBe(user.id);
      expect(answers.open.map((s) => s.id)).toEqual([hex32(0xc13), hex32(0xc12)]);
      sameOnEveryEngine(engine, "sessions", { ...answers, used: { ...answers.used, user_id: "<user>" } });
    });

    test("deliveries: claimed once, attempts recorded only under the lease, replayed by the operator", async () => {
      const id = await store.transaction((tx) =>
        tx.deliveries.enqueue({ orderId: null, target: 6001, txid: "tx-d", body: '{"proof":1}', now: 3000 }),
      );
      const claims = await Promise.all(
        ["n1", "n2", "n3"].map((owner) =>
          store.transaction(async (tx) => {
            await yieldToEventLoop();
            return (await tx.leases.claim("deliveries", owner, 3030, 3000, 10)).map(() => owner);
          }),
        ),
      );
      const owners = claims.flat();
      expect(owners).toHaveLength(1);
      const attempt = {
        started: 3001,
        state: "retry" as const,
        attempts: 1,
        windowStart: 3000,
        nextAt: 3060,
        httpStatus: 503,
        latency: 12,
        error: "busy",
        reply: "try later",
        now: 3001,
        peerCode: "BUSY",
        dialect: "rsv130/sha256",
      };
      const answers = await store.transaction(async (tx) => ({
        byThief: await tx.deliveries.recordProofAttempt(id, "nobody", {
          ...attempt,
          peerMessage: "m",
          body: "{}",
          dialectRetried: false,
        }),
        recorded: await tx.deliveries.recordProofAttempt(id, owners[0]!, {
          ...attempt,
          peerMessage: "slow down",
          body: '{"proof":2}',
          dialectRetried: true,
        }),
        row: await tx.deliveries.byId(id),
        pending: (await tx.deliveries.list("pending")).map((d) => d.id === id),
        dead: await tx.deliveries.list("dead"),
        replay: await tx.deliveries.replay(id, 4000),
        missing: await tx.deliveries.byId("dlv_none"),
      }));
      expect(answers.byThief).toBe(false);
      expect(answers.recorded).toBe(true);
      expect(answers.row?.dialect_retried).toBe(1);
      const event = await store.transaction(async (tx) => {
        const [row] = await tx.leases.claim("deliveries", "n9", 4030, 4000, 10);
        return tx.deliveries
          .recordAttempt(id, "n9", { ...attempt, state: "delivered", now: 4001 })
          .then((ok) => ({ ok, row: !!row }));
      });
      expect(event).toEqual({ ok: true, row: true });
      sameOnEveryEngine(engine, "deliveries", answers);
    });

    test("directory, dialects, anomalies, top-ups, idempotency answers: the same records on both engines", async () => {
      const { user } = await store.transaction((tx) => tx.users.create("topup-user", 1));
      const answers = await store.transaction(async (tx) => {
        await tx.directory.put(8001, "https://peer.example/oc", "operator", 10);
        await tx.directory.put(8001, "https://peer2.example/oc", "registry", 11);
        await tx.directory.put(8002, "https://other.example/oc", "operator", 12);
        await tx.directory.saveCached(8001, '{"doc":1}', 13);
        await tx.directory.saveCached(8001, '{"doc":2}', 14);
        const dir = {
          value: await tx.directory.value(8001),
          none: await tx.directory.value(9999),
          entries: await tx.directory.entries(),
          cached: await tx.directory.cached(8001),
          cachedAt: await tx.directory.cachedAt(8001),
          removed: [await tx.directory.remove(8002), await tx.directory.remove(8002)],
        };
        await tx.directory.dropCached(8001);
        const dialect = {
          first: await tx.dialects.observe(8001, { encoding: "der", hash: "sha256", form: "deep" }, "order", 20),
          same: await tx.dialects.observe(8001, { encoding: "der", hash: "sha256" }, "request", 21),
          learn: await tx.dialects.learn(8001, { encoding: "rsv130", hash: "double-sha256" }, 22),
          learned: await tx.dialects.signingFor(8001),
          changed: await tx.dialects.observe(8001, { encoding: "compact128", hash: "sha256" }, "request", 23),
          override: await tx.dialects.setOverride(8001, { encoding: "der", hash: null }),
          row: await tx.dialects.get(8001),
          all: await tx.dialects.all(),
          signing: await tx.dialects.signingFor(8001),
          unknown: await tx.dialects.signingFor(8999),
        };
        await tx.anomalies.record("txid_reused", null, null, "no order", 30);
        await tx.anomalies.record("balance_limit", 424242, "job-x", "first", 31);
        await tx.anomalies.record("mismatch", 424242, null, "second", 32);
        const resolved = [
          await tx.anomalies.resolveForOrder(424242, 33),
          await tx.anomalies.resolveForOrder(424242, 34),
        ];
        await tx.topups.insert({
          id: "tp-1",
          userId: user.id,
          via: 8001,
          amount: "9.99",
          amountMinor: 999n,
          currency: "GBP",
          orderJson: "{}",
          now: 40,
        });
        await tx.topups.insert({
          id: "tp-2",
          userId: user.id,
          via: 8001,
          amount: "1",
          amountMinor: 100n,
          currency: "GBP",
          orderJson: "{}",
          now: 41,
        });
        await tx.topups.setCheckoutUrl("tp-1", "https://pay.example/c/1");
        await tx.topups.dropPending("tp-2");
        await tx.idempotency.claim(3, "k", "h", 50, 60);
        await tx.idempotency.answer(3, "k", 201, '{"ok":true}');
        return {
          dir,
          afterDrop: await tx.directory.cached(8001),
          dialect,
          anomalies: (await tx.anomalies.ofOrder(424242)).map((a) => ({ ...a, id: typeof a.id })),
          resolved,
          anomaliesNone: await tx.anomalies.ofOrder(1),
          topup: await tx.topups.byId("tp-1"),
          ofOtherUser: await tx.topups.ofUser("tp-1", "someone"),
          dropped: await tx.topups.byId("tp-2"),
          credited: [
            await tx.topups.markCredited("tp-1", "tx-t", 42),
            await tx.topups.markCredited("tp-1", "tx-t", 43),
          ],
          creditedRow: await tx.topups.ofUser("tp-1", user.id),
          reply: await tx.idempotency.reply(3, "k"),
          noReply: await tx.idempotency.reply(3, "none"),
        };
      });
      expect(answers.credited).toEqual([true, false]);
      expect(answers.topup?.amountMinor).toBe(999n);
      expect(answers.dialect).toMatchObject({ first: true, same: false, changed: true });
      sameOnEveryEngine(engine, "misc", {
        ...answers,
        topup: { ...answers.topup, userId: "<u>" },
        creditedRow: { ...answers.creditedRow, userId: "<u>" },
      });
    });

    test("money is bigint end to end: amounts beyond 2^53 and up to 2^63-1 round-trip exactly", async () => {
      await store.transaction(async (tx) => {
        await tx.ledger.move({
          from: "funding",
          to: "user:big",
          currency: "USD",
          amount: ABOVE_DOUBLE_PRECISION,
          reason: "t",
          now: MONEY_AT,
        });
        await tx.ledger.move({
          from: "external:9",
          to: "user:max",
          currency: "USD",
          amount: INT64_MAX,
          reason: "t",
          now: MONEY_AT,
        });
      });
      const read = await store.read(async (tx) => ({
        big: await tx.ledger.balance("user:big", "USD"),
        max: (await tx.ledger.balances("user:max"))[0]!.balance,
        entries: (await tx.ledger.entries(MONEY_AT, MONEY_AT + 1)).map((e) => e.delta),
      }));
      expect(read.big).toBe(ABOVE_DOUBLE_PRECISION);
      expect(read.max).toBe(INT64_MAX);
      expect(read.entries).toEqual([-ABOVE_DOUBLE_PRECISION, ABOVE_DOUBLE_PRECISION, -INT64_MAX, INT64_MAX]);
      expect(typeof read.big).toBe("bigint");
    });
  });
}

describe("sqlite engine: one connection", () => {
  test("a synchronous transaction from outside cannot join an open port transaction; inside it may", async () => {
    const store = openSqlite();
    let refused: unknown;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const open = store.transaction(async (tx) => {
      await tx.ledger.move({ from: "funding", to: "user:a", currency: "USD", amount: 1n, reason: "t", now: 1 });
      store.tx(() =>
        store.ledger.move({ from: "funding", to: "user:a", currency: "USD", amount: 1n, reason: "t", now: 1 }),
      );
      await gate;
    });
    await yieldToEventLoop();
    try {
      store.tx(() =>
        store.ledger.move({ from: "funding", to: "user:b", currency: "USD", amount: 1n, reason: "t", now: 1 }),
      );
    } catch (e) {
      refused = e;
    }
    release();
    await open;
    expect(refused).toBeInstanceOf(ConnectionBusy);
    expect(store.ledger.balance("user:a", "USD")).toBe(2n);
    expect(store.ledger.balance("user:b", "USD")).toBe(0n);
    store.close();
  });
});
