// The WebSocket messages of §10.3, built from order records (so a reconnect can rebuild them from the database).
import type { Gateway } from "../gateway";
import type { OrderRecord } from "../store/orders";
import type { PaymentRequest, PaymentUpdate } from "../app/hub";

export function merchantView(gw: Gateway, ocid: number): { ocid: number; name?: string; icon?: string } {
  const meta = gw.directory.peek(ocid);
  const out: { ocid: number; name?: string; icon?: string } = { ocid };
  if (meta?.name) out.name = meta.name;
  if (meta?.icon) out.icon = meta.icon;
  return out;
}

export function paymentRequestMessage(gw: Gateway, o: OrderRecord): PaymentRequest {
  const m = merchantView(gw, o.merchant_ocid);
  return {
    type: "payment_request",
    sessionId: o.session_id,
    merchant: m.name ? { ocid: m.ocid, name: m.name } : { ocid: m.ocid },
    order: JSON.parse(o.order_json),
    expiresAt: o.confirm_deadline,
  };
}

export function paymentUpdateMessage(o: Pick<OrderRecord, "session_id" | "status" | "final_txid">): PaymentUpdate {
  const msg: PaymentUpdate = { type: "payment_update", sessionId: o.session_id, status: o.status };
  if (o.final_txid) msg.txid = o.final_txid;
  return msg;
}
