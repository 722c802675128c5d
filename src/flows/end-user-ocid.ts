// End-user OCIDs (issue 17; the docs' payment-gateway "End-user OCIDs" page): a user may hold an OCID of their own.
// Its registry value points at `<endpoint>/users/<ocid>/metadata.json`, a document signed with this gateway's key,
// sent to this gateway's endpoint and naming this gateway in `gateway`, so a sender's directory learns which
// gateway holds the wallet. Transfers to that OCID arrive at our /transfer/create (or /transfer/webhook) and credit
// the user.
import type { Gateway } from "../gateway";
import { OperatorError } from "./accounts";
import { signObject } from "../protocol/signed-objects";
import type { MetadataConfig, PeerMetadata } from "../protocol/schemas";
import { parsePublicKey } from "../protocol/keys";
import type { User } from "../store/users";
import type { Tx } from "../store";

/** What a sender may ask of a person's OCID: send it money. */
export const END_USER_CAPABILITIES = ["transfer.create"];

export const userMetadataPath = (gw: Pick<Gateway, "config">, ocid: number) =>
  `${gw.config.basePath}/users/${ocid}/metadata.json`;
export const userMetadataUrl = (gw: Pick<Gateway, "config">, ocid: number) =>
  `${gw.config.endpoint}/users/${ocid}/metadata.json`;

export function parseOcidArg(s: string | undefined): number {
  if (!s || !/^[1-9][0-9]{0,15}$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new OperatorError(`not an OCID: ${s ?? "(missing)"}`);
  return Number(s);
}

/** Operator: give `name` the OCID (or take it away with "none"). One OCID names one party. */
export async function setUserOcid(
  gw: Pick<Gateway, "clock" | "config" | "directory" | "store">,
  name: string,
  ocidText: string,
  actor = "cli",
): Promise<{ user: User; ocid: number | null; metadataUrl: string | null }> {
  const ocid = ocidText === "none" ? null : parseOcidArg(ocidText);
  if (ocid !== null && ocid === gw.config.ocid) throw new OperatorError(`${ocid} is this gateway's own OCID`);
  return gw.store.transaction(async (tx) => {
    if (ocid !== null && (await gw.directory.list(tx)).some((e) => e.ocid === ocid))
      throw new OperatorError(`${ocid} names a peer in the directory (remove it there first)`);
    const user = await tx.users.byName(name);
    if (!user) throw new OperatorError(`no user named "${name}"`);
    if (ocid !== null) {
      const holder = await tx.users.byOcid(ocid);
      if (holder && holder.id !== user.id) throw new OperatorError(`${ocid} already belongs to user "${holder.name}"`);
    }
    await tx.users.setOcid(user.id, ocid);
    await tx.audit.append(actor, "users.set-ocid", { userId: user.id, ocid }, gw.clock());
    return { user: { ...user, ocid }, ocid, metadataUrl: ocid === null ? null : userMetadataUrl(gw, ocid) };
  });
}

/** The published document for a user's OCID (nested form, §2.3, plus `gateway`). */
export function userMetadataDocument(gw: Pick<Gateway, "config" | "key">, user: User & { ocid: number }) {
  const config: MetadataConfig = {
    publicKey: gw.key.publicKeyHex,
    endpoint: gw.config.endpoint,
    capabilities: END_USER_CAPABILITIES,
    settlement: { currencies: gw.config.currencies.enabled, accepts: gw.config.acceptIssuers },
  };
  return {
    opencharge: "0.1",
    name: user.name,
    gateway: gw.config.ocid,
    config,
    signature: signObject(config, gw.key.secret).signature,
  };
}

/** Our own users' OCIDs resolve locally, never over the network (like our own OCID, §2.2). */
export async function localUserMetadata(
  gw: Pick<Gateway, "config" | "key">,
  tx: Tx,
  ocid: number,
): Promise<PeerMetadata | null> {
  const user = await tx.users.byOcid(ocid);
  if (!user) return null;
  const key = parsePublicKey(gw.key.publicKeyHex);
  if (!key.ok) return null;
  return {
    ocid,
    name: user.name,
    publicKey: key.point,
    endpoint: gw.config.endpoint,
    capabilities: END_USER_CAPABILITIES,
    settlement: { currencies: gw.config.currencies.enabled, accepts: gw.config.acceptIssuers },
    fetchedAt: Number.MAX_SAFE_INTEGER / 2,
    gateway: gw.config.ocid,
  };
}
