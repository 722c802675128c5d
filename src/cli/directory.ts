import type { Gateway } from "../gateway";
import { bytesToHex } from "../protocol/hex";
import { OperatorError } from "../flows/accounts";
import { usage, type Out, type Parsed } from "./run";

const ocidArg = (s: string | undefined): number => {
  if (!s || !/^[1-9][0-9]{0,15}$/.test(s) || !Number.isSafeInteger(Number(s))) throw new OperatorError(`not an OCID: ${s ?? "(missing)"}`);
  return Number(s);
};

export async function directoryCommand(gw: Gateway, { positionals }: Parsed, out: Out): Promise<number> {
  const [sub, a, b] = positionals;
  switch (sub) {
    case "add": {
      const ocid = ocidArg(a);
      if (!b) return usage(out, "directory add <ocid> <url>");
      try {
        gw.directory.add(ocid, b);
      } catch (e) {
        throw new OperatorError((e as Error).message);
      }
      gw.store.tx(() => gw.store.audit.append("cli", "directory.add", { ocid, url: b }, gw.clock()));
      out.log(`added ${ocid} → ${b}`);
      return 0;
    }
    case "list":
      for (const e of gw.directory.list()) out.log(`${e.ocid}\t${e.value}\t${e.source}`);
      return 0;
    case "remove": {
      const ocid = ocidArg(a);
      if (!gw.directory.remove(ocid)) throw new OperatorError(`${ocid} is not in the directory table`);
      gw.store.tx(() => gw.store.audit.append("cli", "directory.remove", { ocid }, gw.clock()));
      out.log(`removed ${ocid}`);
      return 0;
    }
    case "resolve": {
      const m = await gw.directory.resolve(ocidArg(a), { bypassCache: true });
      out.log(JSON.stringify({ ...m, publicKey: bytesToHex(m.publicKey.subarray(1)) }, null, 2));
      return 0;
    }
    default:
      return usage(out, "directory add <ocid> <url> | list | remove <ocid> | resolve <ocid>");
  }
}
