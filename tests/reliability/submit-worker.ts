// A merchant POS on a second thread: signs orders and requests (with the independent peer kit) and fires the
// concurrent submits of the session race, so the gateway's event loop keeps a core of its own.
import { makeOrder, TestPeer } from "../peers/kit";

type Init = { type: "init"; url: string; ocid: number; privateKeyHex: string; accepts: number[] };
type Race = { type: "submitRace"; id: number; sessions: string[]; perSession: number; width: number; seed: number };
export type RaceResult = { sessionId: string; statuses: number[]; codes: (string | null)[]; orders: { id: string; amount: string }[] };

declare const self: Worker;
let peer: TestPeer | null = null;
let base = "";
let accepts: number[] = [];

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function submit(sessionId: string, order: Record<string, unknown>): Promise<{ status: number; code: string | null }> {
  const path = `/opencharge/orders/create/${sessionId}`;
  const body = JSON.stringify({ order, signature: peer!.signOrder(order), urls: {} });
  try {
    const res = await fetch(base + path, { method: "POST", headers: peer!.signedRequestHeaders("POST", path, body), body });
    const json = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
    return { status: res.status, code: json?.error?.code ?? null };
  } catch (e) {
    // A socket error is the client's problem, not the gateway's answer: report it rather than hide it.
    return { status: -1, code: String((e as Error)?.message ?? e) };
  }
}

self.onmessage = async (ev: MessageEvent<Init | Race>) => {
  const m = ev.data;
  if (m.type === "init") {
    peer = TestPeer.offline({ ocid: m.ocid, privateKeyHex: m.privateKeyHex });
    base = m.url;
    accepts = m.accepts;
    postMessage({ type: "ready" });
    return;
  }
  const rand = rng(m.seed);
  const out: RaceResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: m.width }, async () => {
      for (;;) {
        const i = next++;
        if (i >= m.sessions.length) return;
        const sessionId = m.sessions[i]!;
        const orders = Array.from({ length: m.perSession }, () =>
          makeOrder(peer!.ocid, { accepts, amount: `${1 + Math.floor(rand() * 9)}.${String(Math.floor(rand() * 100)).padStart(2, "0")}` }),
        );
        const rs = await Promise.all(orders.map((o) => submit(sessionId, o)));
        out.push({ sessionId, statuses: rs.map((r) => r.status), codes: rs.map((r) => r.code), orders: orders.map((o) => ({ id: o.id as string, amount: o.amount as string })) });
      }
    }),
  );
  postMessage({ type: "done", id: m.id, results: out });
};
