// The wallet app API (SPEC §10.2), same origin. The token travels only in the Authorization header.

export type Balance = { currency: string; amount: string };
export type Me = { user: { id: string; name: string }; balances: Balance[] };
export type Item = { id?: string; name?: string; quantity?: number; price?: string };
export type Order = { id: string; ocid: number; amount: string; currency: string; items?: Item[]; memo?: string; reference?: string; expiresAt?: number };
export type Merchant = { ocid: number; name?: string; icon?: string };
export type PayResult = { sessionId: string; qrPayload: { ocid: number; order: string; expiresAt: number }; qrText: string; qrCode: string; expiresAt: number };
export type SessionView = {
  sessionId: string;
  kind: "qr" | "checkout";
  sessionStatus: "pending" | "used" | "cancelled" | "expired";
  expiresAt: number;
  order: Order | null;
  merchant: Merchant | null;
  status: string | null;
  confirmBy: number | null;
  txid?: string;
  urls?: { success?: string; cancel?: string; [k: string]: unknown };
};
export type AnswerResult = { status: string; txid?: string; redirect?: string };
export type HistoryItem =
  | { kind: "payment"; sessionId: string; orderId: string; merchant: Merchant; amount: string; currency: string; status: string; txid?: string; receivedAt: number; updatedAt: number }
  | { kind: "credit"; amount: string; currency: string; issuer: number | string; txid: string | null; at: number };
export type HistoryPage = { items: HistoryItem[]; nextBefore?: string };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Server clock minus ours, in ms, from the Date header (only trusted when the gap is over 2 s). */
let skewMs = 0;
export const serverNow = () => Date.now() + skewMs;

function noteServerDate(date: string | null) {
  const t = date ? Date.parse(date) : NaN;
  if (!Number.isFinite(t)) return;
  const gap = t - Date.now();
  skewMs = Math.abs(gap) > 2000 ? gap : 0;
}

export function makeApi(getToken: () => string | null, onUnauthorized: () => void) {
  async function call<T>(method: string, path: string, body?: unknown, token: string | null = getToken()): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit" });
    } catch {
      throw new ApiError(0, "NETWORK", "Cannot reach the wallet server. Check your connection and try again.");
    }
    noteServerDate(res.headers.get("date"));
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const e = json?.error ?? {};
      const err = new ApiError(res.status, String(e.code ?? `HTTP_${res.status}`), String(e.message ?? `Request failed (${res.status})`), e.details);
      if (res.status === 401 && token === getToken()) onUnauthorized();
      throw err;
    }
    return json as T;
  }
  const sid = (id: string) => encodeURIComponent(id);
  return {
    me: (token?: string) => call<Me>("GET", "/app/me", undefined, token ?? getToken()),
    demoLogin: () => call<{ token: string; user: { id: string; name: string } }>("POST", "/app/demo/login", {}, null),
    pay: () => call<PayResult>("POST", "/app/pay", {}),
    session: (id: string) => call<SessionView>("GET", `/app/sessions/${sid(id)}`),
    confirm: (id: string) => call<AnswerResult>("POST", `/app/confirm/${sid(id)}`, {}),
    decline: (id: string) => call<AnswerResult>("POST", `/app/decline/${sid(id)}`, {}),
    history: (before?: string) => call<HistoryPage>("GET", `/app/history?limit=10${before ? `&before=${encodeURIComponent(before)}` : ""}`),
  };
}

export type Api = ReturnType<typeof makeApi>;
