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
