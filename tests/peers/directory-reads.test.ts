// The directory's check of the persisted copy (src/peers/directory.ts) against this node's own saves, on either
// engine. A resolution's read can begin before this node saved a freshly fetched copy and end after it: on
// PostgreSQL reads run side by side on the pool, and under load the 100-concurrent-requests test in
// tests/http/auth.test.ts saw it (a read that found no copy, answered after the fetch had been saved, dropped the
// fresh copy as if another process had removed it, and fetched the metadata a second time). The order is pinned
// here: the first resolution's read answers only after a second resolution fetched and saved the copy.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, type PortTestGateway } from "../helpers/gateway";
import { TestPeer } from "./kit";

let tg: PortTestGateway;
beforeAll(async () => {
  tg = await startPortTestGateway();
});
afterAll(async () => {
  await tg.close();
});

test("a read begun before this node saved the peer's copy does not drop that copy (one metadata fetch)", async () => {
  const p = await TestPeer.start({ ocid: 612 });
  await tg.gw.directory.add(612, p.endpoint);
  const store = tg.gw.store;
  const read = store.read;
  let answered!: () => void;
  const firstAnswered = new Promise<void>((r) => (answered = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let first = true;
  // The same store, its first read's answer held back (its snapshot already taken: no copy saved yet).
  store.read = (async (fn: Parameters<typeof read>[0]) => {
    const out = await read.call(store, fn);
    if (first) {
      first = false;
      answered();
      await held;
    }
    return out;
  }) as typeof read;
  try {
    const early = tg.gw.directory.resolve(612);
    await firstAnswered;
    const fetched = await tg.gw.directory.resolve(612); // fetches and saves the copy
    expect(p.metadataFetches).toBe(1);
    release();
    expect((await early).ocid).toBe(fetched.ocid);
    // Control: without the check of this node's saves, the early read dropped the copy and fetched again (2).
    expect(p.metadataFetches).toBe(1);
  } finally {
    store.read = read;
    release();
    await p.stop();
  }
});
