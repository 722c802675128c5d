// One payment at a time, end to end, as a user and a merchant live it: the user's app asks for a session
// (POST /app/pay) with its WebSocket open, the merchant submits, the push arrives, the user confirms, and the proof
// reaches the merchant's webhook (direct settlement: the order accepts the gateway's OCID). Unloaded latencies.
import type { BenchUser, GatewayProc } from "./gateway";
import { GATEWAY_OCID } from "./gateway";
import { latency, type Latency } from "./load";
import { signSubmit, waitForWebhook, type Merchant } from "./peers";

export type FlowResult = {
  samples: number;
  pay_ms: Latency;
  submit_ms: Latency;
  /** submit response received → payment_request received; ≤ 0 when the push beat the HTTP response */
  ws_after_response_ms: Latency;
  /** submit sent → payment_request received */
  ws_from_send_ms: Latency;
  confirm_ms: Latency;
  /** POST /app/confirm sent → proof request arrives at the merchant's /transfer/webhook */
  confirm_to_webhook_ms: Latency;
};

/** A /app/ws client that authenticates with a first message and timestamps each payment_request on arrival. */
async function openWs(url: string, token: string) {
  const ws = new WebSocket(url.replace("http", "ws") + "/app/ws");
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  ws.onmessage = (ev) => {
    const at = performance.now();
    const m = JSON.parse(String(ev.data));
    if (m.type === "ready") ready();
    if (m.type === "payment_request") {
      arrivals.set(m.sessionId, at);
      waiters.get(m.sessionId)?.(at);
    }
  };
  await new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = reject)));
  ws.send(JSON.stringify({ type: "auth", token }));
  await isReady;
  return {
    wait(sessionId: string, timeoutMs = 5000): Promise<number> {
      const seen = arrivals.get(sessionId);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no payment_request for ${sessionId}`)), timeoutMs);
        waiters.set(sessionId, (at) => (clearTimeout(t), resolve(at)));
      });
    },
    close: () => ws.close(),
  };
}

async function app(url: string, user: BenchUser, path: string): Promise<any> {
  const res = await fetch(url + path, { method: "POST", headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" }, body: "{}" });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * A flow against one gateway: `sample()` runs one payment end to end. Two flows can be interleaved sample by sample
 * so that both gateways see the same moments of a noisy machine.
 */
export async function openFlow(gw: GatewayProc, merchants: Merchant[]) {
  const ws = await openWs(gw.url, gw.flowUser.token);
  const r = { pay: [] as number[], submit: [] as number[], wsAfter: [] as number[], wsSend: [] as number[], confirm: [] as number[], hook: [] as number[] };
  let i = 0;
  return {
    async sample(): Promise<void> {
      let t = performance.now();
      const { sessionId } = await app(gw.url, gw.flowUser, "/app/pay");
      r.pay.push(performance.now() - t);

      const s = signSubmit(merchants[i++ % merchants.length]!, sessionId, GATEWAY_OCID);
      const sent = performance.now();
      const res = await fetch(gw.url + s.path, { method: "POST", headers: s.headers, body: s.body });
      const text = await res.text();
      const responded = performance.now();
      if (res.status !== 200) throw new Error(`submit → ${res.status} ${text}`);
      r.submit.push(responded - sent);
      const pushed = await ws.wait(sessionId);
      r.wsAfter.push(pushed - responded);
      r.wsSend.push(pushed - sent);

      t = performance.now();
      const c = await app(gw.url, gw.flowUser, `/app/confirm/${sessionId}`);
      r.confirm.push(performance.now() - t);
      if (c.status !== "confirmed") throw new Error(`confirm → ${JSON.stringify(c)}`);
      r.hook.push((await waitForWebhook(s.orderId)) - t);
    },
    /** Forgets the samples so far (the warm-up ones). */
    reset(): void {
      for (const v of Object.values(r)) v.length = 0;
    },
    result(): FlowResult {
      ws.close();
      return {
        samples: r.submit.length,
        pay_ms: latency(r.pay),
        submit_ms: latency(r.submit),
        ws_after_response_ms: latency(r.wsAfter),
        ws_from_send_ms: latency(r.wsSend),
        confirm_ms: latency(r.confirm),
        confirm_to_webhook_ms: latency(r.hook),
      };
    },
  };
}
