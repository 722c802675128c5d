// The verification pool answers exactly like the inline verifier, and a broken worker never strands a request.
import { expect, test } from "bun:test";
import { inlineVerifier, workerVerifier } from "../src/verify-pool";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex, parsePublicKey } from "../src/protocol/keys";
import { parseSignature, signString } from "../src/protocol/signatures";
import { sha256Bytes } from "../src/protocol/hash";

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

test("a gateway with signOnWorkers answers protocol requests with valid response signatures", async () => {
  const { startTestGateway, NO_RATE_LIMITS } = await import("./helpers/gateway");
  const { startMerchant, orderFor, submitOrder } = await import("./helpers/merchant");
  const { addUser, app } = await import("./helpers/wallet");
  const tg = await startTestGateway({ ocid: 200, rateLimits: NO_RATE_LIMITS, verifyWorkers: 2, signOnWorkers: true });
  const merchant = await startMerchant(tg, 530);
  try {
    expect(tg.gw.verifier.signsOffThread).toBe(true);
    const { token } = addUser(tg, "wes", "USD:10.00");
    const pay = await app(tg, token, "POST", "/app/pay", {});
    const r = await submitOrder(merchant, tg, pay.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }));
    expect(r.status).toBe(200);
    expect(r.responseSignatureValid).toBe(true);
    const replay = await submitOrder(merchant, tg, pay.json.sessionId, orderFor(merchant, tg, { amount: "1.00" }));
    expect(replay.status).toBe(410); // errors are signed inline (see protocolRoute), still valid
    expect(replay.responseSignatureValid).toBe(true);
  } finally {
    await merchant.stop();
    await tg.close();
  }
});
