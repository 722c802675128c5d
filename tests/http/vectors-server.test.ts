// SPEC §18: the server accepts the vectors' session submit (wire path and route-relative signatures) with the clock
// pinned at 1706313700, answers the exact 200 body, and signs it with the exact vector signature.
import { afterEach, expect, test } from "bun:test";
import vectors from "../vectors/opencharge-vectors.json";
import { startPortTestGateway, type PortTestGateway as TestGateway } from "../helpers/gateway";
import { TestPeer } from "../peers/kit";
import { seedUser } from "../helpers/wallet";

const V = vectors.requestSignature;
const started: { tg: TestGateway; peer: TestPeer }[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.peer.stop();
    await s.tg.close();
  }
});

/** The vectors' gateway with their session, for the vector user; `status` other than pending: it is gone. */
async function vectorGateway(clock: { t: number }, status: "pending" | "used" = "pending") {
  const tg = await startPortTestGateway(
    {
      privateKey: vectors.key.privateKey,
      ocid: 200,
      publicUrl: "https://api.wallet.example",
      partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
    },
    { clock: () => clock.t },
  );
  // One key plays every party in the vectors (SPEC §18); real tests give each party its own.
  const peer = await TestPeer.start({ ocid: 500, privateKeyHex: vectors.key.privateKey });
  await tg.gw.directory.add(500, peer.endpoint);
  const { user } = await seedUser(tg, "vector-user", "USD:100.00");
  const s = V.sessionSubmit.expect.session;
  const session = { id: s.id, kind: "qr" as const, userId: user.id, status, createdAt: s.createdAt, expiresAt: s.expiresAt };
  await tg.gw.store.transaction((tx) => tx.sessions.insert(session));
  started.push({ tg, peer });
  return tg;
}

function send(tg: TestGateway, v: { method: string; path: string; body: string; headers: Record<string, string> }, signature?: string) {
  return fetch(tg.url + v.path, {
    method: v.method,
    headers: { ...v.headers, ...(signature ? { "X-OC-Signature": signature } : {}) },
    body: v.body === "" ? undefined : v.body,
  });
}

test("vector session submit (wire path) → exact 200 body and the exact vector response signature; then the status GET vector", async () => {
  const clock = { t: V.sessionSubmit.expect.serverNow };
  const tg = await vectorGateway(clock);
  const res = await send(tg, V.sessionSubmit);
  const text = await res.text();
  expect(res.status).toBe(200);
  expect(text).toBe(V.sessionSubmit.expect.response.body);
  expect(text).toBe(vectors.responseSignature.sessionSubmitOk.body);
  expect(res.headers.get("x-oc-id")).toBe("200");
  expect(res.headers.get("x-oc-timestamp")).toBe("1706313700");
  expect(res.headers.get("x-oc-signature")).toBe(vectors.responseSignature.sessionSubmitOk.headers["X-OC-Signature"]);
  const stored = await tg.gw.store.read((tx) => tx.orders.bySession(V.sessionSubmit.expect.session.id));
  expect(stored!.sigForm).toBe(V.sessionSubmit.expect.orderSignatureForm as "deep");

  clock.t = V.statusGet.timestamp;
  const st = await send(tg, V.statusGet);
  expect(st.status).toBe(200);
  expect(await st.json()).toEqual({
    order: { id: "ord_abc123", ocid: 500, amount: "25.00", currency: "USD" },
    status: "awaiting_confirmation",
    updatedAt: 1706313700,
  });

  // The same request again is a replay.
  const again = await send(tg, V.sessionSubmit);
  expect(again.status).toBe(401);
  expect((await again.json()).error.code).toBe("NONCE_REUSED");
});

test("vector session submit signed over the route-relative path is accepted too", async () => {
  const tg = await vectorGateway({ t: V.sessionSubmit.expect.serverNow });
  const res = await send(tg, V.sessionSubmit, V.sessionSubmit.routeRelative.signature);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe(V.sessionSubmit.expect.response.body);
});

test("vector session submit answered SESSION_USED when the session is gone, with the vector error body", async () => {
  const clock = { t: 1706313701 };
  const tg = await vectorGateway(clock, "used");
  const res = await send(tg, V.sessionSubmit);
  expect(res.status).toBe(410);
  expect(await res.text()).toBe(vectors.responseSignature.sessionUsedError.body);
  expect(res.headers.get("x-oc-signature")).toBe(vectors.responseSignature.sessionUsedError.headers["X-OC-Signature"]);
});
