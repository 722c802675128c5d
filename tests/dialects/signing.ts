// The dialect kit's `signing.js`, once per library, each written the way the public docs (and each library's own
// README) write it — not the way SPEC §3 would. Nothing here imports from src/. Each signer is what one merchant
// uses for everything: its metadata config, its orders, its requests, and verifying our proofs and requests.
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import * as noble1 from "noble-secp256k1-v1";
import * as noble2 from "noble-secp256k1-v2";
import * as noble3 from "@noble/secp256k1";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import elliptic from "elliptic";
import { ethers } from "ethers";
import secp256k1 from "secp256k1";

export type Signer = {
  library: string;
  /** 128 hex, x‖y, as the docs publish it. */
  publicKey: string;
  sign(message: string): Promise<string>;
  /** `publicKey` is the 128-hex key from the other party's metadata. */
  verify(message: string, signatureHex: string, publicKey: string): Promise<boolean>;
  close?: () => void;
};

const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** @noble/secp256k1 1.7: `sign` returns DER by default; `verify` reads DER or 64-byte compact, low-S only. */
export function noble17(sk: string): Signer {
  noble1.utils.hmacSha256Sync = (k: Uint8Array, ...m: Uint8Array[]) => hmac(sha256, k, noble1.utils.concatBytes(...m));
  return {
    library: "@noble/secp256k1 1.7.1",
    publicKey: hex(noble1.getPublicKey(sk, false)).slice(2),
    async sign(message) {
      const msgHash = await noble1.utils.sha256(utf8(message));
      return hex(await noble1.sign(msgHash, sk));
    },
    async verify(message, signature, publicKey) {
      const msgHash = await noble1.utils.sha256(utf8(message));
      return noble1.verify(signature, msgHash, "04" + publicKey);
    },
  };
}

/** @noble/secp256k1 2.x: the caller hashes; signatures are 64-byte compact both ways. */
export function noble2x(sk: string): Signer {
  noble2.etc.hmacSha256Sync = (k: Uint8Array, ...m: Uint8Array[]) => hmac(sha256, k, noble2.etc.concatBytes(...m));
  return {
    library: "@noble/secp256k1 2.3.0",
    publicKey: hex(noble2.getPublicKey(sk, false)).slice(2),
    async sign(message) {
      return noble2.sign(sha256(utf8(message)), sk).toCompactHex();
    },
    async verify(message, signature, publicKey) {
      return noble2.verify(signature, sha256(utf8(message)), "04" + publicKey);
    },
  };
}

function noble3Hooks() {
  noble3.hashes.sha256 = sha256;
  noble3.hashes.hmacSha256 = (k: Uint8Array, m: Uint8Array) => hmac(sha256, k, m);
}

/** @noble/secp256k1 3.x used correctly: pass the message, let noble hash it (prehash: true). */
export function noble3x(sk: string): Signer {
  noble3Hooks();
  return {
    library: "@noble/secp256k1 3.2.0",
    publicKey: hex(noble3.getPublicKey(unhex(sk), false)).slice(2),
    async sign(message) {
      return hex(noble3.sign(utf8(message), unhex(sk)));
    },
    async verify(message, signature, publicKey) {
      try {
        return noble3.verify(unhex(signature), utf8(message), unhex("04" + publicKey));
      } catch {
        return false;
      }
    },
  };
}

/**
 * @noble/secp256k1 3.x as code ported from 1.x/2.x writes it: hash first, then call sign/verify with the default
 * `prehash: true` — so everything is over SHA-256(SHA-256(m)) (SPEC §3.4 pitfall 2).
 */
export function noble3xPrehashed(sk: string): Signer {
  noble3Hooks();
  return {
    library: "@noble/secp256k1 3.2.0 (hash passed, prehash default)",
    publicKey: hex(noble3.getPublicKey(unhex(sk), false)).slice(2),
    async sign(message) {
      return hex(noble3.sign(sha256(utf8(message)), unhex(sk)));
    },
    async verify(message, signature, publicKey) {
      try {
        return noble3.verify(unhex(signature), sha256(utf8(message)), unhex("04" + publicKey));
      } catch {
        return false;
      }
    },
  };
}

/** elliptic: hex digests in, `toDER('hex')` out; `verify` given a hex string reads DER only (and throws otherwise). */
export function ellipticSigner(sk: string): Signer {
  const ec = new elliptic.ec("secp256k1");
  const key = ec.keyFromPrivate(sk, "hex");
  return {
    library: "elliptic 6.6.1",
    publicKey: key.getPublic(false, "hex").slice(2),
    async sign(message) {
      return key.sign(sha256Hex(message), { canonical: true }).toDER("hex");
    },
    async verify(message, signature, publicKey) {
      return ec.keyFromPublic("04" + publicKey, "hex").verify(sha256Hex(message), signature);
    },
  };
}

/** ethers v6: `SigningKey.sign(digest).serialized` is 0x r‖s‖v; verifying = recovering the key and comparing. */
export function ethersSigner(sk: string): Signer {
  const key = new ethers.SigningKey("0x" + sk);
  return {
    library: "ethers 6.17.0",
    publicKey: key.publicKey.slice(4),
    async sign(message) {
      return key.sign(ethers.sha256(ethers.toUtf8Bytes(message))).serialized.slice(2);
    },
    async verify(message, signature, publicKey) {
      const recovered = ethers.SigningKey.recoverPublicKey(ethers.sha256(ethers.toUtf8Bytes(message)), "0x" + signature);
      return recovered.toLowerCase() === "0x04" + publicKey.toLowerCase();
    },
  };
}

/** The npm `secp256k1` SDK (its pure-JS fallback here): 32-byte digest, 64-byte compact signature, low-S. */
export function secp256k1Sdk(sk: string): Signer {
  const skBytes = unhex(sk);
  return {
    library: "secp256k1 5.0.2 (npm)",
    publicKey: hex(secp256k1.publicKeyCreate(skBytes, false)).slice(2),
    async sign(message) {
      return hex(secp256k1.ecdsaSign(sha256(utf8(message)), skBytes).signature);
    },
    async verify(message, signature, publicKey) {
      return secp256k1.ecdsaVerify(unhex(signature), sha256(utf8(message)), unhex("04" + publicKey));
    },
  };
}

/**
 * node:crypto: `crypto.sign('sha256', …)` / `crypto.verify` (DER signatures). Bun's BoringSSL has no secp256k1,
 * so this one runs in a real Node process (`node-crypto-signer.mjs`), as such a merchant would.
 */
export async function nodeCryptoSigner(sk: string): Promise<Signer> {
  const child = spawn("node", [join(import.meta.dir, "node-crypto-signer.mjs"), sk], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<number, (v: any) => void>();
  lines.on("line", (l) => {
    const m = JSON.parse(l);
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  let seq = 0;
  const ask = (req: Record<string, unknown>) =>
    new Promise<any>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve);
      child.stdin!.write(JSON.stringify({ id, ...req }) + "\n");
    });
  const hello = await ask({ op: "publicKey" });
  return {
    library: `node:crypto (Node ${hello.node})`,
    publicKey: hello.publicKey,
    sign: async (message) => (await ask({ op: "sign", message })).signature,
    verify: async (message, signature, publicKey) => {
      const r = await ask({ op: "verify", message, signature, publicKey });
      if (r.error) throw new Error(r.error);
      return r.ok;
    },
    close: () => child.kill(),
  };
}

export const nodeAvailable = (() => {
  try {
    return Bun.spawnSync(["node", "-e", "require('crypto').createECDH('secp256k1')"]).exitCode === 0;
  } catch {
    return false;
  }
})();
