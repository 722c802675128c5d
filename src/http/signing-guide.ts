// "How to sign" at {basePath}/docs/signing. The worked examples are computed here, with the gateway's own signing
// code, from the inputs of the test vectors (tests/vectors/opencharge-vectors.json, bundled at build time); nothing
// is typed in by hand, and tests/http/reference.test.ts checks every number shown equals the vectors' expected one.
import V from "../../tests/vectors/opencharge-vectors.json" with { type: "json" };
import { canonDeep, requestCanonical, responseCanonical } from "../protocol/canonical";
import { sha256Hex } from "../protocol/hash";
import { hexToBytes } from "../protocol/hex";
import { signString } from "../protocol/signatures";
import { escapeHtml, HEAD_META } from "./reference-page";

export type WorkedExample = { label: string; lines: [string, string][] };

/** The numbers of every worked example, from the vectors' inputs through our code. */
export function workedExamples(): Record<"request" | "response" | "order" | "proof", WorkedExample> {
  const sk = hexToBytes(V.key.privateKey)!;
  const rq = V.requestSignature.docsExample;
  const bodyHash = sha256Hex(rq.body);
  const canonical = requestCanonical({
    ocid: String(rq.ocid),
    timestamp: String(rq.timestamp),
    nonce: rq.nonce,
    method: rq.method,
    path: rq.path,
    bodyHash,
  });
  const rs = V.responseSignature.sessionSubmitOk;
  const rsBodyHash = sha256Hex(rs.body);
  const rsCanonical = responseCanonical(rs.ocid, rs.timestamp, rs.status, rsBodyHash);
  const order = canonDeep(V.order.object);
  const proof = canonDeep(V.proof.object);
  return {
    request: {
      label: "Request signature",
      lines: [
        ["Body (exact bytes sent)", rq.body],
        ["SHA256HEX(body)", bodyHash],
        ["Canonical string (\\n = line feed)", canonical.replaceAll("\n", "\\n")],
        ["SHA-256 of the canonical string", sha256Hex(canonical)],
        ["X-OC-Signature (r‖s‖v, 130 hex)", signString(canonical, sk)],
      ],
    },
    response: {
      label: "Response signature",
      lines: [
        ["Body", rs.body],
        ["SHA256HEX(body)", rsBodyHash],
        ["Canonical string", rsCanonical.replaceAll("\n", "\\n")],
        ["X-OC-Signature", signString(rsCanonical, sk)],
      ],
    },
    order: {
      label: "Order signature",
      lines: [
        ["Canonical order (deep form)", order],
        ["SHA-256", sha256Hex(order)],
        ["signature", signString(order, sk)],
      ],
    },
    proof: {
      label: "Proof signature",
      lines: [
        ["Canonical proof (deep form)", proof],
        ["SHA-256", sha256Hex(proof)],
        ["signature", signString(proof, sk)],
      ],
    },
  };
}

const c = (s: string) => `<code>${escapeHtml(s)}</code>`;
const example = (e: WorkedExample, id: string) =>
  `<div class="scroll" role="region" aria-label="${escapeHtml(e.label)} worked example" tabindex="0">` +
  `<table id="${id}"><caption>${escapeHtml(e.label)}: worked example</caption><tbody>` +
  e.lines
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`)
    .join("") +
  `</tbody></table></div>`;

export function renderSigningGuide(basePath: string, title: string): string {
  const ex = workedExamples();
  const rq = V.requestSignature.docsExample;
  return `<!doctype html><html lang="en"><head>${HEAD_META}
<title>How to sign —
${escapeHtml(title)}</title><link rel="stylesheet" href="${basePath}/docs/reference.css"></head><body>
<a class="skip" href="#content">Skip to content</a>
<header><p class="brand">${escapeHtml(title)}</p><nav aria-label="Guides"><a href="${basePath}/docs">API reference</a> ·
<a href="${basePath}/docs/signing" aria-current="page">How to sign</a> ·
<a href="${basePath}/openapi.json">openapi.json</a></nav></header>
<div class="layout"><main id="content" tabindex="-1">
<h1>How to sign</h1>
<p>Every protocol request is signed by the caller and every answer by us, with secp256k1 keys published in each party's
metadata (${c(`${basePath}/metadata.json`)}). Orders and proofs carry their own signature over a canonical JSON form.
The examples below use the test key ${c(V.key.privateKey)} (never use it for real) and are computed by this gateway's
code.</p>

<h2 id="request">1. Signing a request</h2>
<ol>
<li>Take the body exactly as you will send it (no re-serialising after signing); for a GET, the empty string. Its hash
is
lowercase hex SHA-256 of those bytes: ${c("SHA256HEX(body)")} (the empty body hashes to ${c(V.sha256Empty)}).</li>
<li>Join six lines with ${c("\\n")} (no trailing newline):
${c("OCID\\nTIMESTAMP\\nNONCE\\nMETHOD\\nPATH\\nSHA256HEX(body)")}.
${c("OCID")} is your OCID in decimal, ${c("TIMESTAMP")} Unix seconds (we accept ±300 s of our clock; TIMESTAMP_EXPIRED
tells you our
time), ${c("NONCE")} 1–128 of ${c("A-Z a-z 0-9 . _ : -")}, never reused, ${c("METHOD")} upper case, ${c("PATH")} the
request target as sent
including the query (we also accept the path relative to ${c(basePath)}).</li>
<li>Sign SHA-256 of that string (UTF-8) with your private key, once: the digest is what you sign, do not hash it
again.</li>
<li>Send ${c("X-OC-ID")}, ${c("X-OC-Timestamp")}, ${c("X-OC-Nonce")}, ${c("X-OC-Signature")}.</li>
</ol>
<p>Example: ${c(`${rq.method} ${rq.path}`)} from OCID ${c(String(rq.ocid))} at ${c(String(rq.timestamp))} with nonce
${c(rq.nonce)}.</p>
${example(ex.request, "example-request")}

<h2 id="formats">2. Key and signature formats</h2>
<ul>
<li><strong>Public keys we accept</strong> in metadata: 128 hex (x‖y, what we publish), 130 hex ${c("04")}‖x‖y, 66 hex
compressed
${c("02/03")}‖x; upper or lower case. Keys not on the curve are refused.</li>
<li><strong>Signatures we accept</strong>: 130 hex r‖s‖v with v ${c("1b/1c")} or ${c("00/01")}, 128 hex r‖s (compact),
or strict DER (hex);
high-S is accepted. <strong>We emit</strong> 130 hex lowercase r‖s‖v, low-S, v = 27 + recovery id.</li>
</ul>

<h2 id="response">3. Verifying our answers</h2>
<p>Every protocol answer (errors included) carries ${c("X-OC-ID")}, ${c("X-OC-Timestamp")} and ${c("X-OC-Signature")}
over
${c("OCID\\nTIMESTAMP\\nSTATUS\\nSHA256HEX(body)")}. Verify it with the key in our metadata before trusting the
body.</p>
${example(ex.response, "example-response")}

<h2 id="order">4. Orders and proofs: the canonical form</h2>
<p>An order (and a settlement proof) is signed over its <strong>deep canonical JSON</strong>: object keys sorted by
UTF-16 code
units at every level, arrays in their order, no whitespace, numbers and strings as ${c("JSON.stringify")} writes them.
Sign
SHA-256 of that text and send the signature beside the object (${c("{order, signature}")}, ${c("{proof, signature}")}).
We verify
over the object as received; a changed item price or amount breaks the signature.</p>
${example(ex.order, "example-order")}
${example(ex.proof, "example-proof")}
</main></div></body></html>`;
}
