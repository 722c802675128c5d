// Issue 18 item 3: change signals between nodes (src/app/bus.ts). In process (always): subscribers hear every
// change as this node's own. On the real PostgreSQL server (two SQL clients = two nodes): a change published after
// a commit reaches the other node as another node's, the database holds what the signal points at, a killed listen
// backend makes the node replay and then hear changes again, and the latency. The gateways' use of it (pushes
// across nodes, after commit) is tested in tests/app/cross-node-push.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { BUS_CHANNEL, InProcessBus, PostgresBus, type Change } from "../../src/app/bus";
import { freshDatabase, postgresAvailable, type TestDatabase } from "../helpers/postgres";

const waitFor = async (pred: () => boolean, ms: number): Promise<boolean> => {
  const end = performance.now() + ms;
  while (!pred() && performance.now() < end) await Bun.sleep(2);
  return pred();
};

describe("in-process bus", () => {
  test("subscribers hear a change at once, as this node's own", async () => {
    const bus = new InProcessBus();
    const heard: [Change, boolean][] = [];
    bus.subscribe({ onChange: (c, local) => heard.push([c, local]) });
    await bus.publish({ user: "u1", session: "s1" });
    expect(heard).toEqual([[{ user: "u1", session: "s1" }, true]]);
  });

  test("unsubscribe stops delivery; close drops every subscriber", async () => {
    const bus = new InProcessBus();
    const heard: string[] = [];
    const off = bus.subscribe({ onChange: (c) => heard.push(`a:${c.user}`) });
    bus.subscribe({ onChange: (c) => heard.push(`b:${c.user}`) });
    await bus.publish({ user: "1" });
    off();
    await bus.publish({ user: "2" });
    await bus.close();
    await bus.publish({ user: "3" });
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
  const heardA: [Change, boolean][] = [];
  const heardB: [Change, boolean][] = [];
  let replaysB = 0;
  beforeAll(async () => {
    db = await freshDatabase("bus");
    await db.sql`CREATE TABLE prompts (user_id TEXT NOT NULL, body TEXT NOT NULL)`;
    sqlA = new SQL(db.url, { max: 2, connection: { application_name: "oc-node-a" } });
    sqlB = new SQL(db.url, { max: 2, connection: { application_name: "oc-node-b" } });
    a = await PostgresBus.start(sqlA);
    b = await PostgresBus.start(sqlB);
    a.subscribe({ onChange: (c, local) => heardA.push([c, local]) });
    b.subscribe({ onChange: (c, local) => heardB.push([c, local]), onReplay: () => replaysB++ });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sqlA?.close();
    await sqlB?.close();
    await db?.drop();
  });

  test("a change published on node A after its commit reaches node B as another node's; B reads the row", async () => {
    await sqlA.begin((tx) => tx`INSERT INTO prompts (user_id, body) VALUES ('u1', 'pay 12.50?')`);
    await a.publish({ user: "u1", session: "s1" });
    expect(await waitFor(() => heardB.length === 1, 3000)).toBe(true);
    expect(heardB).toEqual([[{ user: "u1", session: "s1" }, false]]);
    const rows = await sqlB`SELECT body FROM prompts WHERE user_id = ${heardB[0]![0].user}`;
    expect(rows.map((r: { body: string }) => r.body)).toEqual(["pay 12.50?"]);
    // Node A's own subscriber heard it once, as its own (its NOTIFY's echo is ignored).
    await Bun.sleep(100);
    expect(heardA).toEqual([[{ user: "u1", session: "s1" }, true]]);
  });

  test("foreign payloads on the channel are ignored by both nodes", async () => {
    heardA.length = 0;
    heardB.length = 0;
    await sqlA.notify(BUS_CHANNEL, "not json");
    await sqlA.notify(BUS_CHANNEL, JSON.stringify({ node: "x", change: { user: "u3", data: "no" } }));
    await sqlA.notify(BUS_CHANNEL, JSON.stringify({ node: "x", change: { kind: "user", id: "u3" } }));
    await sqlA.notify(BUS_CHANNEL, JSON.stringify({ node: "x", change: { user: "u4" } })); // control: well formed
    // Delivered in order: once the well-formed one arrived on both, the foreign ones before it were dropped.
    expect(await waitFor(() => heardA.length === 1 && heardB.length === 1, 5000)).toBe(true);
    expect(heardA).toEqual([[{ user: "u4" }, false]]);
    expect(heardB).toEqual([[{ user: "u4" }, false]]);
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
    await a.publish({ user: "u9", session: "s9" });
    expect(await waitFor(() => heardB.length === 1, 3000)).toBe(true);
    expect(heardB).toEqual([[{ user: "u9", session: "s9" }, false]]);
    console.log(`bus: node B re-subscribed and replayed ${resubscribeMs} ms after its listen backend was killed`);
  });

  test("latency node A publish -> node B hears it, sequential (printed); nothing lost", async () => {
    heardB.length = 0;
    const ms: number[] = [];
    let arrived: ((id: string) => void) | null = null;
    const off = b.subscribe({ onChange: (c) => arrived?.(c.user) });
    for (let i = 0; i < 300; i++) {
      const id = `lat-${i}`;
      const heard = new Promise<number>((resolve) => (arrived = (got) => got === id && resolve(performance.now())));
      const t = performance.now();
      await a.publish({ user: id });
      const at = await Promise.race([heard, Bun.sleep(2000).then(() => NaN)]);
      expect(at).not.toBeNaN();
      ms.push(at - t);
    }
    off();
    expect(heardB.map(([c]) => c.user)).toEqual(Array.from({ length: 300 }, (_, i) => `lat-${i}`));
    ms.sort((x, y) => x - y);
    console.log(`bus: NOTIFY latency node A -> node B p50 ${ms[150]!.toFixed(2)} ms, p99 ${ms[297]!.toFixed(2)} ms`);
  });
});
