// Which kind of credit an inbound proof is, from its addressee alone (issue 17): a top-up when it names this
// gateway and one of its top-up ids, else a credit to a user. Written once: the intake books by it
// (src/flows/inbound-proof.ts) and a node re-reading the credit for its sockets names it the same way
// (src/notify/user-feed.ts).
const TOPUP_RE = /^topup_[0-9a-f]{24}$/;
export const isTopupReference = (r: string | undefined): r is string => r !== undefined && TOPUP_RE.test(r);

export const creditKindOf = (to: { ocid: number; reference?: string }, ourOcid: number): "topup" | "credit" =>
  to.ocid === ourOcid && isTopupReference(to.reference) ? "topup" : "credit";
