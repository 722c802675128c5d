// The WebSocket messages of §10.3, built from order records (so a reconnect can rebuild them from the database).
import type { Gateway } from "../gateway";
import type { OrderRecord } from "../store/orders";
import type { Tx } from "../store";
import type { PaymentRequest, PaymentUpdate } from "../app/hub";
import type { MerchantView } from "../app/schemas";
import { endpointHost } from "../store/merchant-snapshot";

/**
 * Name + OCID + host of its registered endpoint (issue 19), read in `tx`. For an order, what the prompt showed
 * (stored at intake) wins over today's directory entry, so history after a restart names the merchant the same way.
 */
export async function merchantViewIn(
  gw: Pick<Gateway, "directory">,
  tx: Tx,
  ocid: number,
  orderRow?: number,
): Promise<MerchantView> {
  return merchantViewOf(gw, ocid, orderRow === undefined ? null : await tx.merchants.get(orderRow));
}

/** What merchantViewIn shows from `seen` (the snapshot stored at intake, if any) and the directory's cached copy. */
export function merchantViewOf(
  gw: Pick<Gateway, "directory">,
  ocid: number,
  seen: { name?: string | null; host?: string | null } | null,
): MerchantView {
  const meta = gw.directory.peek(ocid);
  const out: MerchantView = { ocid };
  const name = seen?.name ?? meta?.name;
  const host = seen?.host ?? endpointHost(meta?.endpoint);
  if (name) out.name = name;
  if (meta?.icon) out.icon = meta.icon;
  if (host) out.host = host;
  return out;
}

/** The prompt for `o`, its merchant as merchantViewIn shows it (the icon stays out of the prompt). */
export function paymentRequestOf(o: OrderRecord, merchant: MerchantView): PaymentRequest {
  const { icon: _icon, ...m } = merchant;
  return {
    type: "payment_request",
    sessionId: o.sessionId,
    merchant: m,
    order: JSON.parse(o.orderJson),
    expiresAt: o.confirmDeadline,
  };
}

export function paymentUpdateMessage(o: Pick<OrderRecord, "sessionId" | "status" | "finalTxid">): PaymentUpdate {
  const msg: PaymentUpdate = { type: "payment_update", sessionId: o.sessionId, status: o.status };
  if (o.finalTxid) msg.txid = o.finalTxid;
  return msg;
}
