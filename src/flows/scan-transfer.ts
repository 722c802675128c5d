// Issue 17: scanning another person's receive QR ({"type":"ocid_transfer","ocid","gateway"}) prefills a transfer.
// The code's gateway must be the one the directory says holds that OCID: a code naming another gateway is refused,
// so a doctored sticker cannot make the wallet show one gateway while the money goes to another.
import type { Gateway } from "../gateway";
import { ProtocolError } from "../protocol/errors";
import type { User } from "../store/users";
import { resolveRecipient } from "./send-money";

export type TransferPrefill = {
  kind: "ocid_transfer";
  transfer: { to: number; gateway: number; name?: string; local: boolean };
};

export async function transferPrefill(
  gw: Pick<Gateway, "config" | "directory" | "store">,
  user: User,
  code: { ocid: number; gateway: number },
): Promise<TransferPrefill> {
  if (user.ocid === code.ocid)
    throw new ProtocolError("INVALID_REQUEST", "This is your own receive code: show it to the person paying you", {
      reason: "own_code",
    });
  const r = await resolveRecipient(gw, code.ocid);
  const holder = r.kind === "local" ? gw.config.ocid : r.via;
  if (holder !== code.gateway)
    throw new ProtocolError(
      "ACCOUNT_NOT_FOUND",
      `The code says OCID ${code.ocid} is at gateway ${code.gateway}, but it is held at ${holder}`,
      {
        field: "to",
        reason: "gateway_mismatch",
      },
    );
  const name = r.kind === "local" ? r.user.name : r.name;
  const transfer: TransferPrefill["transfer"] = { to: code.ocid, gateway: holder, local: r.kind === "local" };
  if (name) transfer.name = name;
  return { kind: "ocid_transfer", transfer };
}
