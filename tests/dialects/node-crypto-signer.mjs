// node:crypto signing for the dialect kit's node:crypto merchant, in a real Node process (one JSON request per
// line on stdin, one answer per line on stdout). Keys as JWK, because node:crypto has no raw-key import.
import crypto from "node:crypto";
import { createInterface } from "node:readline";

const skHex = process.argv[2];
const ecdh = crypto.createECDH("secp256k1");
ecdh.setPrivateKey(Buffer.from(skHex, "hex"));
const pub = ecdh.getPublicKey(); // 65 bytes 04‖x‖y
const b64u = (b) => Buffer.from(b).toString("base64url");
const jwkPublic = (xy) => ({ kty: "EC", crv: "secp256k1", x: b64u(xy.subarray(0, 32)), y: b64u(xy.subarray(32, 64)) });
const privateKey = crypto.createPrivateKey({ key: { ...jwkPublic(pub.subarray(1)), d: b64u(Buffer.from(skHex, "hex")) }, format: "jwk" });

createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line);
  let answer;
  try {
    if (m.op === "publicKey") answer = { publicKey: pub.subarray(1).toString("hex"), node: process.versions.node };
    else if (m.op === "sign") answer = { signature: crypto.sign("sha256", Buffer.from(m.message), privateKey).toString("hex") };
    else {
      const key = crypto.createPublicKey({ key: jwkPublic(Buffer.from(m.publicKey, "hex")), format: "jwk" });
      answer = { ok: crypto.verify("sha256", Buffer.from(m.message), key, Buffer.from(m.signature, "hex")) };
    }
  } catch (e) {
    answer = { error: String(e && e.message) };
  }
  process.stdout.write(JSON.stringify({ id: m.id, ...answer }) + "\n");
});
