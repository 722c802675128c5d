// §13.2 proofs we issue: only for transfers already in our ledger (call inside that transaction), signed in the
// deep form, stored with their canonical string, and never re-created for the same transfer.
import type { Database } from "bun:sqlite";
import { randomHex } from "../protocol/hex";
import { signObject } from "../protocol/signed-objects";

export type IssuedProof = { proof: Record<string, unknown>; signature: string; txid: string; body: string };

export type ProofFields = {
  issuer: number;
  from: { ocid: number; reference?: string };
  to: { ocid: number; reference?: string };
  amount: string;
  currency: string;
  timestamp: number;
  memo?: string;
};

function withoutEmpty<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== "")) as T;
}

export function issueProof(db: Database, sk: Uint8Array, f: ProofFields, orderId: number | null): IssuedProof {
  const txid = "tx_" + randomHex(16);
  const proof = withoutEmpty({
    txid,
    issuer: f.issuer,
    from: withoutEmpty(f.from),
    to: withoutEmpty(f.to),
    amount: f.amount,
    currency: f.currency,
    timestamp: f.timestamp,
    memo: f.memo,
  });
  const { canonical, signature } = signObject(proof, sk);
  db.query("INSERT INTO issued_proofs (txid, proof_json, signature, canonical, order_id, created_at) VALUES (?, ?, ?, ?, ?, ?)").run(
    txid, JSON.stringify(proof), signature, canonical, orderId, f.timestamp,
  );
  return { proof, signature, txid, body: JSON.stringify({ proof, signature }) };
}
