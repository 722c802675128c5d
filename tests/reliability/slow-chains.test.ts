// Issue 23 item 7: slow metadata chains. Three redirects of 4.5 s each made a signed request wait 18 s (5 s per
// hop, no overall deadline), and everyone needing that peer's metadata waited on the same fetch. Now one deadline
// (METADATA_DEADLINE_MS) covers the whole chain, and callers that hold a usable stale copy are not queued.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPortTestGateway, NO_RATE_LIMITS, type PortTestGateway } from "../helpers/gateway";
import { TestPeer } from "../peers/kit";
import { METADATA_DEADLINE_MS } from "../../src/peers/directory";
import { fileDone, suiteSeed, tally } from "./support";

suiteSeed("slow-chains");

let tg: PortTestGateway;
let slow: TestPeer;
let server: ReturnType<typeof Bun.serve>;
const hopDelay = { ms: 4500 };
let hits = 0;

beforeAll(async () => {
  tg = await startPortTestGateway({ rateLimits: NO_RATE_LIMITS, metadataTtl: 1 });
  slow = await TestPeer.start({ ocid: 640, name: "Slow chain" });
  slow.trustGateway(200, tg.gw.key.publicKeyHex);
  // /m1.json → /m2.json → /m3.json → /real.json, each hop answering after hopDelay.
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      hits++;
      const path = new URL(req.url).pathname;
      await Bun.sleep(hopDelay.ms);
      const n = /^\/m([123])\.json$/.exec(path);
      if (n) return new Response(null, { status: 302, headers: { location: n[1] === "3" ? "/real.json" : `/m${Number(n[1]) + 1}.json` } });
      return Response.json(slow.metadataDocument());
    },
  });
  await tg.gw.directory.add(640, `http://127.0.0.1:${server.port}/m1.json`);
});
afterAll(async () => {
  server.stop(true);
  await slow.stop();
  await tg.close();
  fileDone(import.meta.path);
});

const capabilities = () => slow.call(tg.url, "GET", "/opencharge/capabilities");

test("a chain of three 4.5 s redirects ends at the overall deadline: 502 METADATA_UNAVAILABLE in ~5 s, not 18 s", async () => {
  const t0 = performance.now();
  const r = await capabilities();
  const ms = performance.now() - t0;
  tally.tried("slowChains");
  tally.status("slowChains", r.status);
  tally.note("slowChains", `3 x 4.5 s redirect chain answered in ${Math.round(ms)} ms (deadline ${METADATA_DEADLINE_MS} ms)`);
  expect(r.status).toBe(502);
  expect(r.json.error).toMatchObject({ code: "METADATA_UNAVAILABLE", details: { reason: "timeout" } });
  expect(ms).toBeLessThan(METADATA_DEADLINE_MS + 1500);
});

test("20 concurrent callers waiting on the same slow peer are all answered by the deadline (one shared fetch)", async () => {
  const before = hits;
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: 20 }, () => capabilities().then((r) => ({ r, ms: performance.now() - t0 }))));
  tally.tried("slowChains", rs.length);
  for (const { r, ms } of rs) {
    tally.status("slowChains", r.status);
    expect(r.status).toBe(502);
    expect(ms).toBeLessThan(METADATA_DEADLINE_MS + 1500);
  }
  expect(hits - before).toBeLessThanOrEqual(2); // coalesced: the chain's first hop (and at most the second)
});

test("with a usable stale copy, callers arriving while a slow refresh is in flight are answered at once", async () => {
  hopDelay.ms = 0;
  expect((await capabilities()).status).toBe(200); // cached now (metadataTtl 1 s)
  await Bun.sleep(1100);
  hopDelay.ms = 4500;
  const first = capabilities(); // refreshes, slowly (its own deadline applies)
  await Bun.sleep(50);
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: 10 }, () => capabilities()));
  const ms = performance.now() - t0;
  tally.tried("slowChains", rs.length + 1);
  expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
  expect(ms).toBeLessThan(1500);
  expect((await first).status).toBe(200); // the refresh timed out, the stale copy still answers (stale-if-error)
});
