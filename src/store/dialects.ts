// Issue 12: per peer OCID, the signature dialect it last verified in (observed), the one its webhook answers taught
// us (learned), and the operator's override. What we sign for a peer: override > learned > observed > SPEC §3.2.
import type { Database } from "bun:sqlite";
import { SPEC_DIALECT, type HashMode, type SigEncoding, type SignDialect } from "../protocol/dialects";
import type { SigForm } from "../protocol/signed-objects";
import { camelAll, camelOrNull, type Camel } from "./records";

export type Observed = { encoding: SigEncoding; hash: HashMode; form?: SigForm };
/** What was verified: the peer's request headers, an order it signed, or its metadata config. */
export type ObservedIn = "request" | "order" | "config";

type Row = {
  ocid: number;
  form: SigForm | null;
  encoding: SigEncoding | null;
  hash: HashMode | null;
  observed_in: ObservedIn | null;
  observed_at: number | null;
  learned_encoding: SigEncoding | null;
  learned_hash: HashMode | null;
  learned_at: number | null;
  override_encoding: SigEncoding | null;
  override_hash: HashMode | null;
};
export type DialectRow = Camel<Row>;

export function effectiveDialect(row: DialectRow | null | undefined): SignDialect {
  return {
    encoding: row?.overrideEncoding ?? row?.learnedEncoding ?? row?.encoding ?? SPEC_DIALECT.encoding,
    hash: row?.overrideHash ?? row?.learnedHash ?? row?.hash ?? SPEC_DIALECT.hash,
  };
}

export function dialects(db: Database) {
  const getRow = db.query<Row, [number]>("SELECT * FROM peer_dialects WHERE ocid = ?");
  const get = (ocid: number) => camelOrNull(getRow.get(ocid));
  const all = db.query<Row, []>("SELECT * FROM peer_dialects ORDER BY ocid");
  // A peer whose own signatures changed dialect changed its code: what its old answers taught us no longer holds.
  const observe = db.query(
    `INSERT INTO peer_dialects (ocid, form, encoding, hash, observed_in, observed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (ocid) DO UPDATE SET
       learned_encoding = CASE WHEN peer_dialects.encoding IS NOT excluded.encoding
         OR peer_dialects.hash IS NOT excluded.hash
                          THEN NULL ELSE peer_dialects.learned_encoding END,
       learned_hash = CASE WHEN peer_dialects.encoding IS NOT excluded.encoding
         OR peer_dialects.hash IS NOT excluded.hash
                      THEN NULL ELSE peer_dialects.learned_hash END,
       form = COALESCE(excluded.form, peer_dialects.form), encoding = excluded.encoding, hash = excluded.hash,
       observed_in = excluded.observed_in, observed_at = excluded.observed_at`,
  );
  const learn = db.query(
    `INSERT INTO peer_dialects (ocid, learned_encoding, learned_hash, learned_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (ocid) DO UPDATE SET learned_encoding = ?2, learned_hash = ?3, learned_at = ?4`,
  );
  const override = db.query(
    `INSERT INTO peer_dialects (ocid, override_encoding, override_hash) VALUES (?1, ?2, ?3)
     ON CONFLICT (ocid) DO UPDATE SET override_encoding = ?2, override_hash = ?3`,
  );
  // Last state written per OCID in this process: verification happens on every request, a write only on a change.
  // A request carries no canonical form, so it keeps the form an order or config showed (else the two would
  // alternate and every request would write).
  const seen = new Map<number, Observed>();
  return {
    get,
    all: () => camelAll(all.all()),
    /** What we sign in for `ocid`. */
    signingFor: (ocid: number): SignDialect => effectiveDialect(get(ocid)),
    /** Records the dialect that just verified; returns true when it differs from the last one recorded. */
    observe(ocid: number, d: Observed, what: ObservedIn, now: number): boolean {
      const prev = seen.get(ocid);
      const form = d.form ?? prev?.form;
      if (prev && prev.encoding === d.encoding && prev.hash === d.hash && prev.form === form) return false;
      const before = get(ocid);
      observe.run(ocid, d.form ?? null, d.encoding, d.hash, what, now);
      seen.set(ocid, { encoding: d.encoding, hash: d.hash, form: form ?? before?.form ?? undefined });
      return (
        !before ||
        before.encoding !== d.encoding ||
        before.hash !== d.hash ||
        (d.form !== undefined && before.form !== d.form)
      );
    },
    learn: (ocid: number, d: SignDialect, now: number) => void learn.run(ocid, d.encoding, d.hash, now),
    /** Operator override; null clears that half (back to what was learned or observed). */
    setOverride(ocid: number, o: { encoding: SigEncoding | null; hash: HashMode | null }): void {
      override.run(ocid, o.encoding, o.hash);
    },
  };
}
export type Dialects = ReturnType<typeof dialects>;
