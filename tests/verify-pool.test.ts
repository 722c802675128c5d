// The verification pool answers exactly like the inline verifier, and a broken worker never strands a request.
import { expect, test } from "bun:test";
import { inlineVerifier, workerVerifier } from "../src/verify-pool";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex, parsePublicKey } from "../src/protocol/keys";
import { parseSignature, signString } from "../src/protocol/signatures";
import { sha256Bytes } from "../src/protocol/hash";
import type { TestGateway } from "./helpers/gateway";
import type { TestPeer } from "./peers/kit";

function check(message: string, signedMessage = message) {
  const sk = parsePrivateKey(generatePrivateKeyHex())!;
  const sig = parseSignature(signString(signedMessage, sk));
  if (!sig.ok) throw new Error("sig");
  const key = parsePublicKey(publicKeyHex(sk));
  if (!key.ok) throw new Error("key");
  return { digests: [sha256Bytes("other"), sha256Bytes(message)], r: sig.r, s: sig.s, pub: key.point };
}

test("workers and inline agree on valid and invalid signatures, across many concurrent checks", async () => {
  const pool = workerVerifier(2, () => {});
  try {
    const cases = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? check(`m${i}`, `tampered${i}`) : check(`m${i}`)));
    const fromPool = await Promise.all(cases.map((c) => pool.verifyAny(c)));
    const inline = await Promise.all(cases.map((c) => inlineVerifier.verifyAny(c)));
    expect(fromPool).toEqual(inline);
    expect(fromPool.filter(Boolean).length).toBe(26);
  } finally {
    pool.close();
  }
});

test("a worker that cannot start: errors are reported and checks fall back inline instead of hanging", async () => {
  const errors: unknown[] = [];
  const pool = workerVerifier(1, (e) => errors.push(e), new URL("./does-not-exist-worker.ts", import.meta.url));
  try {
    const c = check("hello");
    const answer = await Promise.race([pool.verifyAny(c), Bun.sleep(3000).then(() => "hung")]);
    expect(answer).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    expect(await pool.verifyAny(check("x", "y"))).toBe(false);
  } finally {
    pool.close();
  }
});

test("signing on the workers (signOnWorkers) gives the inline signature, byte for byte (RFC 6979), and verifies", async () => {
  const pool = workerVerifier(2, () => {}, undefined, { sign: true });
  try {
    expect(pool.signsOffThread).toBe(true);
    const sk = parsePrivateKey(generatePrivateKeyHex())!;
    const key = parsePublicKey(publicKeyHex(sk));
    if (!key.ok) throw new Error("key");
    const digests = Array.from({ length: 20 }, (_, i) => sha256Bytes(`200\n1706313700\n200\n${i}`));
    const fromPool = await Promise.all(digests.map((d) => pool.signDigest(d, sk)));
    expect(fromPool).toEqual(await Promise.all(digests.map((d) => inlineVerifier.signDigest(d, sk))));
    for (const [i, sig] of fromPool.entries()) {
      const p = parseSignature(sig);
      if (!p.ok) throw new Error("sig");
      expect(await inlineVerifier.verifyAny({ digests: [digests[i]!], r: p.r, s: p.s, pub: key.point })).toBe(true);
    }
  } finally {
    pool.close();
  }
});

/** A served gateway signing on its workers and a merchant registered with it (stopped after `fn`). */
async function withSigningGateway(
  opts: { ocid: number; merchant: number; verifyWorkers: number },
  fn: (g: { tg: TestGateway; merchant: TestPeer }) => Promise<void>,
) {
  const { startTestGateway, NO_RATE_LIMITS } = await import("./helpers/gateway");
  const { startMerchant } = await import("./helpers/merchant");
  const { ocid, verifyWorkers } = opts;
  const tg = await startTestGateway({ ocid, rateLimits: NO_RATE_LIMITS, verifyWorkers, signOnWorkers: true });
  const merchant = await startMerchant(tg, opts.merchant);
  try {
    await fn({ tg, merchant });
  } finally {
    await merchant.stop();
    await tg.close();
  }
}

test("a gateway with signOnWorkers answers protocol requests with valid response signatures", async () => {
  const { orderFor, submitOrder } = await import("./helpers/merchant");
  const { addUser, app } = await import("./helpers/wallet");
  await withSigningGateway({ ocid: 200, merchant: 530, verifyWorkers: 2 }, async ({ tg, merchant }) => {
    expect(tg.gw.verifier.signsOffThread).toBe(true);
    const { token } = addUser(tg, "wes", "USD:10.00");
    const pay = await app(tg, token, "POST", "/app/pay", {});
    const r = await submitOrder(merchant, tg, pay.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }));
    expect(r.status).toBe(200);
    expect(r.responseSignatureValid).toBe(true);
    const replay = await submitOrder(merchant, tg, pay.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }));
    expect(replay.status).toBe(410); // errors are signed inline (see protocolRoute), still valid
    expect(replay.responseSignatureValid).toBe(true);
  });
});

test("verifyThen: follow-ups run only after the request's own check passed, in order, and sign only when all passed", async () => {
  const pool = workerVerifier(1, () => {}, undefined, { sign: true });
  try {
    const sk = parsePrivateKey(generatePrivateKeyHex())!;
    const key = parsePublicKey(publicKeyHex(sk));
    if (!key.ok) throw new Error("key");
    const signed = (m: string) => {
      const p = parseSignature(signString(m, sk));
      if (!p.ok) throw new Error("sig");
      return p;
    };
    const req = { digests: [sha256Bytes("request")], ...signed("request"), pub: key.point };
    const order = { digest: sha256Bytes("order"), ...signed("order") };
    const forged = { digest: sha256Bytes("order"), ...signed("not the order") };
    const answer = sha256Bytes("answer");
    const sign = { digest: answer, sk };

    const all = await pool.verifyThen(req, { checks: [order, order], sign });
    expect(all).toEqual({ ok: true, checks: [true, true], sig: await inlineVerifier.signDigest(answer, sk) });
    // A forged request: nothing else runs (it costs one verification, as without follow-ups).
    const bad = await pool.verifyThen({ ...req, digests: [sha256Bytes("other")] }, { checks: [order], sign });
    expect(bad).toEqual({ ok: false, checks: [], sig: undefined });
    // The first failing follow-up stops the rest, and nothing is signed.
    const stop = await pool.verifyThen(req, { checks: [forged, order], sign });
    expect(stop).toEqual({ ok: true, checks: [false], sig: undefined });
    // Inline there is no round trip to save: only the request's check.
    expect(await inlineVerifier.verifyThen(req, { checks: [order], sign })).toEqual({ ok: true, checks: [] });
  } finally {
    pool.close();
  }
  const verifyOnly = workerVerifier(1, () => {});
  try {
    const sk = parsePrivateKey(generatePrivateKeyHex())!;
    const key = parsePublicKey(publicKeyHex(sk));
    const p = parseSignature(signString("request", sk));
    if (!key.ok || !p.ok) throw new Error("setup");
    const r = await verifyOnly.verifyThen(
      { digests: [sha256Bytes("request")], r: p.r, s: p.s, pub: key.point },
      { checks: [], sign: { digest: sha256Bytes("answer"), sk } },
    );
    expect(r.sig).toBeUndefined(); // signOnWorkers off: the event loop signs
  } finally {
    verifyOnly.close();
  }
});

test("a submit's crypto is one worker round trip: request and order signatures and the signed answer", async () => {
  const { orderFor, submitOrder } = await import("./helpers/merchant");
  const { addUser, app } = await import("./helpers/wallet");
  await withSigningGateway({ ocid: 201, merchant: 531, verifyWorkers: 1 }, async ({ tg, merchant }) => {
    const v = tg.gw.verifier;
    const calls = { verifyAny: 0, verifyThen: 0, signDigest: 0 };
    for (const name of Object.keys(calls) as (keyof typeof calls)[]) {
      const real = v[name].bind(v) as (...a: unknown[]) => unknown;
      (v as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => (calls[name]++, real(...a));
    }
    const { token } = addUser(tg, "una", "USD:10.00");
    const pay = await app(tg, token, "POST", "/app/pay", {});
    const r = await submitOrder(merchant, tg, pay.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }));
    expect(r.status).toBe(200);
    expect(r.responseSignatureValid).toBe(true);
    expect(calls).toEqual({ verifyAny: 0, verifyThen: 1, signDigest: 0 });

    // A bad order signature: the worker's "false" is the deep form's answer, the other forms are still tried, and the
    // order is refused; the error is signed on the event loop.
    const pay2 = await app(tg, token, "POST", "/app/pay", {});
    const order = orderFor(merchant, tg, { amount: "1.00" });
    const forged = merchant.signOrder({ ...order, amount: "2.00" }, "deep");
    const refused = await submitOrder(merchant, tg, pay2.json.sessionId, order, { signature: forged });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("INVALID_SIGNATURE");
    expect(refused.responseSignatureValid).toBe(true);
    expect(calls.verifyThen).toBe(2);
    expect(calls.verifyAny).toBeGreaterThan(0); // double-hash and replacer forms, checked the usual way
    const after = await submitOrder(merchant, tg, pay2.json.sessionId, order);
    expect(after.status).toBe(200);
    expect(after.responseSignatureValid).toBe(true);
  });
});
