// §4.3: request authentication over the raw bytes as received. Pure checks first, then directory, signature, nonce.
import { ProtocolError } from "../protocol/errors";
import { requestCanonical } from "../protocol/canonical";
import { sha256Bytes, sha256Hex } from "../protocol/hash";
import { parseSignature } from "../protocol/signatures";
import type { FollowedUp, FollowUp, Verifier } from "../verify-pool";
import type { PeerMetadata } from "../protocol/schemas";
import type { Directory } from "../peers/directory";
import { KEY_ROTATION_AGE } from "../peers/directory";
import type { Clock } from "../clock";
import { encodingName, type HashMode } from "../protocol/dialects";
import type { Observed } from "../store/dialects";
import type { Tx } from "../store";

/** `followedUp`: what the request's `followUp` found, when it ran with the request's own check (see FollowUp). */
export type Caller = { ocid: number; metadata: PeerMetadata; nonce: string; followedUp?: FollowedUp };

const HEADER_RULES: [string, string, RegExp][] = [
  ["x-oc-id", "X-OC-ID", /^[1-9][0-9]{0,15}$/],
  ["x-oc-timestamp", "X-OC-Timestamp", /^[1-9][0-9]{0,10}$/],
  ["x-oc-nonce", "X-OC-Nonce", /^[A-Za-z0-9._:-]{1,128}$/],
  ["x-oc-signature", "X-OC-Signature", /^[0-9a-fA-F]{1,1024}$/],
];

export type AuthDeps = {
  directory: Directory;
  clock: Clock;
  window: number;
  basePath: string;
  /** Records a nonce in a transaction of its own; true = fresh, false = replay. */
  recordNonce: (ocid: number, nonce: string, now: number) => Promise<boolean>;
  /** The same inside the caller's open transaction `tx` (the submit path records it with its claim). */
  recordNonceIn: (tx: Tx, ocid: number, nonce: string, now: number) => Promise<boolean>;
  verifier: Verifier;
  /** Issue 12: told which encoding and hash mode the request signature verified in. */
  observeDialect?: (ocid: number, d: Observed) => void;
};

function bad(reason: "missing_header" | "malformed_header", header: string): ProtocolError {
  const message = reason === "missing_header" ? "Missing authentication header" : "Malformed authentication header";
  return new ProtocolError("INVALID_SIGNATURE", message, { reason, header });
}

const signatureMismatch = () =>
  new ProtocolError(
    "INVALID_SIGNATURE",
    "Invalid signature: sign SHA-256 of OCID\\nTIMESTAMP\\nNONCE\\nMETHOD\\nPATH\\nSHA256HEX(body) " +
      "with the key in your metadata (see /opencharge/docs/signing)",
    { reason: "signature_mismatch" },
  );

/** The verifier's path candidates (§4.2): the wire target, then the target minus the mount path. */
export function pathCandidates(target: string, basePath: string): string[] {
  return target.startsWith(basePath + "/") ? [target, target.slice(basePath.length)] : [target];
}

/**
 * `deferNonce`: the caller records the nonce itself, inside the route's own transaction (one fsync instead of two);
 * the protocol route wrapper guarantees it is recorded on every path (see `protocolRoute`).
 * `followUp`: checks with the caller's key (and a signature) the route will need, sent with the first verification.
 */
export async function authenticate(
  deps: AuthDeps,
  method: string,
  target: string,
  headers: Headers,
  rawBody: Uint8Array,
  opts: { deferNonce?: boolean; followUp?: (caller: PeerMetadata) => FollowUp | null } = {},
): Promise<Caller> {
  const values: string[] = [];
  for (const [name, display, re] of HEADER_RULES) {
    const v = headers.get(name);
    if (v === null) throw bad("missing_header", display);
    if (!re.test(v)) throw bad("malformed_header", display);
    values.push(v);
  }
  const [idStr, tsStr, nonce, sigHex] = values as [string, string, string, string];
  const ocid = Number(idStr);
  if (!Number.isSafeInteger(ocid)) throw bad("malformed_header", "X-OC-ID");
  const sig = parseSignature(sigHex);
  if (!sig.ok) throw bad("malformed_header", "X-OC-Signature");

  const now = deps.clock();
  if (Math.abs(now - Number(tsStr)) > deps.window)
    throw new ProtocolError(
      "TIMESTAMP_EXPIRED",
      `X-OC-Timestamp ${tsStr} is outside ±${deps.window} s of our time ${now} (Unix seconds): check your clock`,
      {
        reason: "timestamp_window",
        timestamp: Number(tsStr),
        serverTime: now,
        windowSeconds: deps.window,
      },
    );

  let metadata = await deps.directory.resolve(ocid);
  const bodyHash = sha256Hex(rawBody);
  const digests = pathCandidates(target, deps.basePath).map((path) =>
    sha256Bytes(requestCanonical({ ocid: idStr, timestamp: tsStr, nonce, method, path, bodyHash })),
  );
  // One SHA-256 first; SHA-256(SHA-256(m)) (a noble 3.x signer with prehash left on) only once that failed, and
  // recorded as the peer's dialect so it is never accepted silently (issue 12).
  const doubled = () => digests.map((d) => sha256Bytes(d));
  let followedUp: FollowedUp | undefined;
  const once = async (m: PeerMetadata): Promise<boolean> => {
    const check = { digests, r: sig.r, s: sig.s, pub: m.publicKey };
    const then = followedUp === undefined ? opts.followUp?.(m) : null;
    if (!then) return deps.verifier.verifyAny(check);
    followedUp = await deps.verifier.verifyThen(check, then);
    return followedUp.ok;
  };
  const verifies = async (m: PeerMetadata): Promise<HashMode | null> => {
    if (await once(m)) return "sha256";
    if (await deps.verifier.verifyAny({ digests: doubled(), r: sig.r, s: sig.s, pub: m.publicKey }))
      return "double-sha256";
    return null;
  };
  let hash = await verifies(metadata);
  if (!hash) {
    if (now - metadata.fetchedAt <= KEY_ROTATION_AGE) throw signatureMismatch();
    metadata = await deps.directory.resolve(ocid, { bypassCache: true });
    hash = await verifies(metadata);
    if (!hash) throw signatureMismatch();
  }
  deps.observeDialect?.(ocid, { encoding: encodingName(sig.encoding), hash });
  // Only after the signature: forged requests must not burn a real sender's nonces.
  if (!opts.deferNonce && !(await deps.recordNonce(ocid, nonce, now))) throw new ProtocolError("NONCE_REUSED");
  // A follow-up ran with a key that did not verify the request (since rotated): its outcome means nothing.
  if (followedUp && !followedUp.ok) followedUp = undefined;
  return { ocid, metadata, nonce, ...(followedUp ? { followedUp } : {}) };
}
