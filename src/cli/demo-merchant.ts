// `oc demo-merchant`: plays a merchant's point of sale against a running demo gateway, end to end — serves its
// own signed metadata and webhook, registers itself in the directory, submits a signed order to the user's pay
// session, and waits for the proof. A learning tool for the README's "try it", not part of the protocol surface.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Gateway } from "../gateway";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../protocol/keys";
import { signObject, verifyObjectSignature } from "../protocol/signed-objects";
import { requestCanonical } from "../protocol/canonical";
import { sha256Hex } from "../protocol/hash";
import { randomHex } from "../protocol/hex";
import { signString } from "../protocol/signatures";
import { OperatorError } from "../flows/accounts";
import type { Out, Parsed } from "./run";

export async function demoMerchantCommand(gw: Gateway, { values }: Parsed, out: Out): Promise<number> {
  const token = values.token as string | undefined;
  if (!token) throw new OperatorError("--token <the demo user's bearer token> is required (`bun run start` prints it)");
  const ocid = Number(values["merchant-ocid"] ?? 500);
  const amount = String(values.amount ?? "4.50");
  const gatewayUrl = `http://${gw.config.host === "0.0.0.0" ? "127.0.0.1" : gw.config.host}:${gw.config.port}`;

  const keyFile = join(gw.config.dataDir, `demo-merchant-${ocid}.key`);
  if (!existsSync(keyFile)) writeFileSync(keyFile, generatePrivateKeyHex() + "\n", { mode: 0o600 });
  const sk = parsePrivateKey(readFileSync(keyFile, "utf8").trim())!;
  const received: { proof: Record<string, unknown>; signature: string }[] = [];
  let endpoint = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(values["merchant-port"] ?? 0),
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/opencharge/metadata.json") {
        const config = {
          publicKey: publicKeyHex(sk),
          endpoint,
          capabilities: ["transfer.webhook"],
          settlement: { currencies: ["USD"], accepts: [gw.config.ocid] },
        };
        return Response.json({
          opencharge: "0.1",
          name: "Demo Coffee",
          config,
          signature: signObject(config, sk).signature,
        });
      }
      if (path === "/opencharge/transfer/webhook" && req.method === "POST") {
        const body = (await req.json()) as { proof: Record<string, unknown>; signature: string };
        const ok = verifyObjectSignature(
          body.proof,
          body.signature,
          gw.directory.peek(gw.config.ocid)!.publicKey,
          false,
        );
        received.push(body);
        out.log(`webhook: proof ${String(body.proof.txid)} — signature ${ok ? "verified (" + ok + ")" : "INVALID"}`);
        return Response.json({ status: ok ? "accepted" : "rejected", txid: body.proof.txid });
      }
      return Response.json({ error: { code: "NOT_FOUND", message: "Not found" } }, { status: 404 });
    },
  });
  endpoint = `http://127.0.0.1:${server.port}/opencharge`;
  await gw.directory.add(ocid, endpoint);
  out.log(`merchant ${ocid} serving ${endpoint}/metadata.json, registered in the gateway's directory`);

  try {
    const app = (method: string, path: string) =>
      fetch(gatewayUrl + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: method === "POST" ? "{}" : undefined,
      });
    const pay = await app("POST", "/app/pay");
    if (pay.status !== 200)
      throw new OperatorError(
        `POST /app/pay answered ${pay.status}: ${await pay.text()} (is the gateway running at ${gatewayUrl}?)`,
      );
    const session = (await pay.json()) as { sessionId: string; qrText: string };
    out.log(`user's QR code says: ${session.qrText}`);
    const qr = JSON.parse(session.qrText) as { ocid: number; order: string };

    const now = Math.floor(Date.now() / 1000);
    const order = {
      id: `demo_${randomHex(4)}`,
      ocid,
      amount,
      currency: "USD",
      items: [{ id: "latte", name: "Latte", quantity: 1, price: amount }],
      createdAt: now,
      expiresAt: now + 600,
      accepts: [qr.ocid],
    };
    const raw = JSON.stringify({ order, signature: signObject(order, sk).signature, urls: {} });
    const target = new URL(qr.order);
    const ts = String(now);
    const nonce = "req_" + randomHex(16);
    const sig = signString(
      requestCanonical({
        ocid: String(ocid),
        timestamp: ts,
        nonce,
        method: "POST",
        path: target.pathname,
        bodyHash: sha256Hex(raw),
      }),
      sk,
    );
    const submit = await fetch(qr.order, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-oc-id": String(ocid),
        "x-oc-timestamp": ts,
        "x-oc-nonce": nonce,
        "x-oc-signature": sig,
      },
      body: raw,
    });
    const submitted = await submit.text();
    out.log(`POST ${target.pathname} → ${submit.status} ${submitted}`);
    if (submit.status !== 200) return 1;

    if (values.confirm) {
      const c = await app("POST", `/app/confirm/${session.sessionId}`);
      out.log(`the user confirms → ${c.status} ${await c.text()}`);
    } else
      out.log(
        `now confirm as the user:\n  curl -X POST -H 'Authorization: Bearer <token>' ` +
          `${gatewayUrl}/app/confirm/${session.sessionId}`,
      );

    const deadline = Date.now() + 120_000;
    while (received.length === 0 && Date.now() < deadline) await Bun.sleep(200);
    if (received.length === 0) throw new OperatorError("no proof arrived within 2 minutes");
    out.log(JSON.stringify(received[0], null, 2));
    return 0;
  } finally {
    server.stop(true);
  }
}
