// Issue 18 item 3: change signals between nodes (src/app/bus.ts). In process (always): changes noted in a
// transaction reach subscribers only after it committed, none after a rollback. On the real PostgreSQL server
// (two SQL clients = two nodes): the same after-commit rule across nodes, the database holds what the signal
// points at, a killed listen backend makes the node replay and then hear changes again, and the latency.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { BUS_CHANNEL, InProcessBus, PostgresBus, publishAfterCommit, type Change } from "../../src/app/bus";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";

const waitFor = async (pred: () => boolean, ms: number): Promise<boolean> => {
  const end = performance.now() + ms;
  while (!pred() && performance.now() < end) await Bun.sleep(2);
  return pred();
};

describe("in-process bus", () => {
  test("a change noted inside a transaction is heard after the commit, never during it; none after a rollback", async () => {
    const db = new Database(":memory:", { strict: true });
    db.exec("CREATE TABLE t (id TEXT PRIMARY KEY)");
    const bus = new InProcessBus();
    const heard: Change[] = [];
    bus.subscribe({ onChange: (c) => heard.push(c) });
    let heardInside = -1;
    await publishAfterCommit(bus, (changed) =>
      db.transaction(() => {
        db.query("INSERT INTO t VALUES ('a')").run();
        changed({ kind: "user", id: "u1" });
        changed({ kind: "user", id: "u1" }); // one signal per changed user, however often noted
        heardInside = heard.length;
      })(),
    );
    expect(heardInside).toBe(0);
    expect(heard).toEqual([{ kind: "user", id: "u1" }]);
    const failed = publishAfterCommit(bus, (changed) =>
      db.transaction(() => {
        db.query("INSERT INTO t VALUES ('b')").run();
        changed({ kind: "session", id: "s1" });
        throw new Error("lost the race");
      })(),
    );
    expect(failed).rejects.toThrow("lost the race");
    expect(heard).toEqual([{ kind: "user", id: "u1" }]);
    expect(db.query("SELECT id FROM t").all()).toEqual([{ id: "a" }]);
  });

  test("unsubscribe stops delivery; close drops every subscriber", async () => {
    const bus = new InProcessBus();
    const heard: string[] = [];
    const off = bus.subscribe({ onChange: (c) => heard.push(`a:${c.id}`) });
    bus.subscribe({ onChange: (c) => heard.push(`b:${c.id}`) });
    await bus.publish({ kind: "user", id: "1" });
    off();
    await bus.publish({ kind: "user", id: "2" });
    await bus.close();
    await bus.publish({ kind: "user", id: "3" });
    expect(heard).toEqual(["a:1", "b:1", "b:2"]);
  });
});

const run = postgresAvailable("bus.test.ts (PostgreSQL LISTEN/NOTIFY part)");

describe.skipIf(!run)("PostgreSQL LISTEN/NOTIFY bus, two nodes", () => {
  let db: TestDatabase;
  let sqlA: SQL;
  let sqlB: SQL;
  let a: PostgresBus;
  let b: PostgresBus;
  const heardA: Change[] = [];
  const heardB: Change[] = [];
  let replaysB = 0;
  beforeAll(async () => {
    db = await freshDatabase("bus");
    await db.sql`CREATE TABLE prompts (user_id TEXT NOT NULL, body TEXT NOT NULL)`;
    sqlA = new SQL(db.url, { max: 2, connection: { application_name: "oc-node-a" } });
    sqlB = new SQL(db.url, { max: 2, connection: { application_name: "oc-node-b" } });
    a = await PostgresBus.start(sqlA);
    b = await PostgresBus.start(sqlB);
    a.subscribe({ onChange: (c) => heardA.push(c) });
    b.subscribe({ onChange: (c) => heardB.push(c), onReplay: () => replaysB++ });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sqlA?.close();
    await sqlB?.close();
    await db?.drop();
  });

  test("a change committed on node A reaches node B after the commit, and B reads the row it points at", async () => {
    let heardByBInside = -1;
    await publishAfterCommit(a, (changed) =>
      sqlA.begin(async (tx) => {
        await tx`INSERT INTO prompts (user_id, body) VALUES ('u1', 'pay 12.50?')`;
        changed({ kind: "user", id: "u1" });
        await Bun.sleep(50);
        heardByBInside = heardB.length;
      }),
    );
    expect(heardByBInside).toBe(0);
    expect(await waitFor(() => heardB.length === 1, 3000)).toBe(true);
    expect(heardB).toEqual([{ kind: "user", id: "u1" }]);
    const rows = await sqlB`SELECT body FROM prompts WHERE user_id = ${heardB[0]!.id}`;
    expect(rows.map((r: { body: string }) => r.body)).toEqual(["pay 12.50?"]);
    // Node A's own subscriber heard it once, locally (its NOTIFY's echo is ignored).
    await Bun.sleep(100);
    expect(heardA).toEqual([{ kind: "user", id: "u1" }]);
  });

  test("a rolled-back transaction signals nothing on either node; foreign payloads on the channel are ignored", async () => {
    heardA.length = 0;
    heardB.length = 0;
    const failed = publishAfterCommit(a, (changed) =>
      sqlA.begin(async (tx) => {
        await tx`INSERT INTO prompts (user_id, body) VALUES ('u2', 'never')`;
        changed({ kind: "user", id: "u2" });
        throw new Error("declined");
      }),
    );
    expect(failed).rejects.toThrow("declined");
    await sqlA.notify(BUS_CHANNEL, "not json");
    await sqlA.notify(BUS_CHANNEL, JSON.stringify({ node: "x", change: { kind: "user", id: "u3", data: "no" } }));
    await Bun.sleep(300);
    expect(heardA).toEqual([]);
    expect(heardB).toEqual([]);
    const [{ n }] = await sqlB`SELECT COUNT(*)::int AS n FROM prompts WHERE user_id = 'u2'`;
    expect(n).toBe(0);
  });

  test("node B's listen backend killed: B replays from the database, then hears node A again", async () => {
    heardB.length = 0;
    const [row] = await db.sql`SELECT pid FROM pg_stat_activity
      WHERE datname = ${db.name} AND application_name = 'oc-node-b' AND query ILIKE 'LISTEN%'`;
    expect(row).toBeDefined();
    const before = replaysB;
    const t0 = performance.now();
    await db.sql`SELECT pg_terminate_backend(${row.pid})`;
    expect(await waitFor(() => replaysB > before, 15_000)).toBe(true);
    const resubscribeMs = Math.round(performance.now() - t0);
    await a.publish({ kind: "session", id: "s9" });
    expect(await waitFor(() => heardB.length === 1, 3000)).toBe(true);
    expect(heardB).toEqual([{ kind: "session", id: "s9" }]);
    console.log(`bus: node B re-subscribed and replayed ${resubscribeMs} ms after its listen backend was killed`);
  });

  test("latency node A publish -> node B hears it, sequential (printed); nothing lost", async () => {
    heardB.length = 0;
    const ms: number[] = [];
    let arrived: ((id: string) => void) | null = null;
    const off = b.subscribe({ onChange: (c) => arrived?.(c.id) });
    for (let i = 0; i < 300; i++) {
      const id = `lat-${i}`;
      const heard = new Promise<number>((resolve) => (arrived = (got) => got === id && resolve(performance.now())));
      const t = performance.now();
      await a.publish({ kind: "user", id });
      const at = await Promise.race([heard, Bun.sleep(2000).then(() => NaN)]);
      expect(at).not.toBeNaN();
      ms.push(at - t);
    }
    off();
    expect(heardB.map((c) => c.id)).toEqual(Array.from({ length: 300 }, (_, i) => `lat-${i}`));
    ms.sort((x, y) => x - y);
    console.log(`bus: NOTIFY latency node A -> node B p50 ${ms[150]!.toFixed(2)} ms, p99 ${ms[297]!.toFixed(2)} ms`);
  });
});
