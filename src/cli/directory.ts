import type { Gateway } from "../gateway";
import { bytesToHex } from "../protocol/hex";
import { OperatorError } from "../flows/accounts";
import { usage, type Out, type Parsed } from "./run";
import {
  HASH_MODES,
  isHashMode,
  isSigEncoding,
  SIG_ENCODINGS,
  type HashMode,
  type SigEncoding,
} from "../protocol/dialects";
import { effectiveDialect, type DialectRow } from "../store/dialects";

/** `sign=der/sha256 (override)` — what we sign in for the peer and why — then what its own signatures verified in. */
function dialectColumn(row: DialectRow | null | undefined): string {
  const d = effectiveDialect(row);
  const why = (o: unknown, l: unknown, s: unknown) => (o ? "override" : l ? "learned" : s ? "observed" : "spec");
  const whyEnc = why(row?.overrideEncoding, row?.learnedEncoding, row?.encoding);
  const whyHash = why(row?.overrideHash, row?.learnedHash, row?.hash);
  const cols = [`sign=${d.encoding}/${d.hash} (${whyEnc === whyHash ? whyEnc : `${whyEnc}/${whyHash}`})`];
  if (row?.encoding)
    cols.push(`seen=${row.encoding}/${row.hash}${row.form ? "/" + row.form : ""} in ${row.observedIn}`);
  return cols.join("\t");
}

function choice<T extends string>(
  flag: string,
  v: unknown,
  list: readonly T[],
  ok: (v: unknown) => v is T,
): T | null | undefined {
  if (v === undefined) return undefined;
  if (v === "auto") return null;
  if (!ok(v)) throw new OperatorError(`--${flag} must be one of ${list.join(", ")} or auto`);
  return v;
}

const ocidArg = (s: string | undefined): number => {
  if (!s || !/^[1-9][0-9]{0,15}$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new OperatorError(`not an OCID: ${s ?? "(missing)"}`);
  return Number(s);
};

export async function directoryCommand(gw: Gateway, { positionals, values }: Parsed, out: Out): Promise<number> {
  const [sub, a, b] = positionals;
  switch (sub) {
    case "add": {
      const ocid = ocidArg(a);
      if (!b) return usage(out, "directory add <ocid> <url>");
      // The entry and its audit row in one transaction.
      await gw.store.transaction(async (tx) => {
        try {
          await gw.directory.add(ocid, b, tx);
        } catch (e) {
          throw new OperatorError((e as Error).message);
        }
        await tx.audit.append("cli", "directory.add", { ocid, url: b }, gw.clock());
      });
      out.log(`added ${ocid} → ${b}`);
      return 0;
    }
    case "list": {
      const listed = await gw.directory.list();
      const lines = await gw.store.read(async (tx) => {
        const lines: string[] = [];
        for (const e of listed)
          lines.push(`${e.ocid}\t${e.value}\t${e.source}\t${dialectColumn(await tx.dialects.get(e.ocid))}`);
        // Peers we only know through the EVM resolver still have a dialect worth showing.
        const known = new Set(listed.map((e) => e.ocid));
        for (const r of await tx.dialects.all())
          if (!known.has(r.ocid)) lines.push(`${r.ocid}\t-\tresolved\t${dialectColumn(r)}`);
        return lines;
      });
      for (const l of lines) out.log(l);
      return 0;
    }
    case "set": {
      const ocid = ocidArg(a);
      const encoding = choice<SigEncoding>("encoding", values.encoding, SIG_ENCODINGS, isSigEncoding);
      const hash = choice<HashMode>("hash", values.hash, HASH_MODES, isHashMode);
      if (encoding === undefined && hash === undefined)
        return usage(
          out,
          "directory set <ocid> [--encoding rsv130|compact128|der|auto] [--hash sha256|double-sha256|auto]",
        );
      const after = await gw.store.transaction(async (tx) => {
        const row = await tx.dialects.get(ocid);
        const override = {
          encoding: encoding === undefined ? (row?.overrideEncoding ?? null) : encoding,
          hash: hash === undefined ? (row?.overrideHash ?? null) : hash,
        };
        await tx.dialects.setOverride(ocid, override);
        await tx.audit.append("cli", "directory.set", { ocid, ...override }, gw.clock());
        return tx.dialects.get(ocid);
      });
      out.log(`${ocid}\t${dialectColumn(after)}`);
      return 0;
    }
    case "remove": {
      const ocid = ocidArg(a);
      await gw.store.transaction(async (tx) => {
        if (!(await gw.directory.remove(ocid, tx))) throw new OperatorError(`${ocid} is not in the directory table`);
        await tx.audit.append("cli", "directory.remove", { ocid }, gw.clock());
      });
      out.log(`removed ${ocid}`);
      return 0;
    }
    case "resolve": {
      const m = await gw.directory.resolve(ocidArg(a), { bypassCache: true });
      out.log(JSON.stringify({ ...m, publicKey: bytesToHex(m.publicKey.subarray(1)) }, null, 2));
      return 0;
    }
    default:
      return usage(
        out,
        "directory add <ocid> <url> | list | remove <ocid> | resolve <ocid> | set <ocid> --encoding E --hash H",
      );
  }
}
