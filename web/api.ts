// The wallet app API (SPEC §10.2), same origin. The token travels only in the Authorization header.

// Client types are the server's response schemas (src/app/schemas.ts): type-only imports, erased from the bundle.
import type * as S from "../src/app/schemas";
import type * as SI from "../src/app/sign-in-schemas";
import type { Static } from "@sinclair/typebox";
import type { Order as OrderSchema } from "../src/protocol/schemas";

export type Balance = S.Balance;
export type Me = S.MeResponse;
export type Order = Static<typeof OrderSchema>;
export type Item = NonNullable<Order["items"]>[number];
export type Merchant = S.MerchantView;
export type PayResult = S.PayResponse;
export type SessionView = S.SessionViewResponse;
export type AnswerResult = S.AnswerResponse;
export type HistoryItem = S.HistoryItem;
export type HistoryPage = S.HistoryPage;
export type OpenCodes = S.OpenCodesResponse;
export type ServerMessage = S.WsServerMessage;
// Issue 13: the scan routes' answers (src/app/scan-schemas.ts); `order` is typed as the order the card shows.
export type Inventory = Static<typeof import("../src/protocol/inventory").Inventory>;
export type InventoryItem = Inventory["items"][number];
export type ScanMerchant = Static<typeof import("../src/app/scan-schemas").ScanResponseSchema>["merchant"];
export type ScanResult = Omit<Static<typeof import("../src/app/scan-schemas").ScanResponseSchema>, "order"> & { order?: Order };
export type Party = Static<typeof S.Party>;
export type TransferResult = Static<typeof S.TransferResponse>;
export type ReceiveQr = Static<typeof S.ReceiveQrResponse>;
export type TopupStarted = Static<typeof S.TopupStarted>;
export type TopupView = Static<typeof S.TopupView>;
export type SessionGrant = SI.SessionGrant;
export type Passkey = SI.PasskeyView;
export type PasskeyList = SI.PasskeyList;
export type CheckoutOutcome = SI.CheckoutOutcome;
export type KycView = Static<typeof S.KycView>;
export type KycStarted = Static<typeof S.KycStarted>;

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
    demoLogin: () => call<S.DemoLoginResponse>("POST", "/app/demo/login", {}, null),
    codes: () => call<OpenCodes>("GET", "/app/codes"),
    cancelCodes: (token?: string | null) => call<{ cancelled: number }>("POST", "/app/codes/cancel", {}, token ?? getToken()),
    /** Operator token → short-lived session token (what the tab keeps). */
    startSession: (operatorToken: string) => call<SessionGrant>("POST", "/app/session", {}, operatorToken),
    signOut: (token?: string | null) => call<{ signedOut: true }>("POST", "/app/signout", {}, token ?? getToken()),
    checkoutStatus: (id: string) => call<CheckoutOutcome>("GET", `/app/checkout/${sid(id)}/status`, undefined, null),
    passkeys: (token?: string) => call<PasskeyList>("GET", "/app/passkeys", undefined, token ?? getToken()),
    passkeyRegisterOptions: (token?: string) => call<any>("POST", "/app/passkeys/register/options", {}, token ?? getToken()),
    passkeyRegister: (name: string, response: unknown, token?: string) =>
      call<SI.PasskeyRegistered>("POST", "/app/passkeys/register", { name, response }, token ?? getToken()),
    passkeyRemove: (id: string) => call<{ removed: true; sessionsEnded: number }>("DELETE", `/app/passkeys/${encodeURIComponent(id)}`),
    passkeySignInOptions: () => call<any>("POST", "/app/passkeys/signin/options", {}, null),
    passkeySignIn: (response: unknown) => call<SessionGrant>("POST", "/app/passkeys/signin", { response }, null),
    pay: () => call<PayResult>("POST", "/app/pay", {}),
    session: (id: string) => call<SessionView>("GET", `/app/sessions/${sid(id)}`),
    checkoutPreview: (id: string) => call<SessionView>("GET", `/app/checkout/${sid(id)}`, undefined, null),
    confirm: (id: string) => call<AnswerResult>("POST", `/app/confirm/${sid(id)}`, {}),
    decline: (id: string) => call<AnswerResult>("POST", `/app/decline/${sid(id)}`, {}),
    scan: (body: { qrContent: string; amount?: string; currency?: string }) => call<ScanResult>("POST", "/app/scan", body),
    scanOrder: (id: string, items: { id: string; quantity: number }[]) => call<ScanResult>("POST", `/app/scan/${sid(id)}/order`, { items }),
    history: (before?: string) => call<HistoryPage>("GET", `/app/history?limit=10${before ? `&before=${encodeURIComponent(before)}` : ""}`),
    // Issue 17: money between people, and top-ups through another gateway.
    transfer: (body: { to: string | number; amount: string; currency: string; memo?: string; idempotencyKey: string }) =>
      call<TransferResult>("POST", "/app/transfer", body),
    receiveQr: () => call<ReceiveQr>("GET", "/app/receive-qr"),
    topup: (body: { via: number; amount: string; currency: string }) => call<TopupStarted>("POST", "/app/topup", body),
    topupStatus: (id: string) => call<TopupView>("GET", `/app/topups/${sid(id)}`),
    // Issue 21: KYC tier and verification.
    kyc: () => call<KycView>("GET", "/app/kyc"),
    kycStart: (body: { userOcid?: number }) => call<KycStarted>("POST", "/app/kyc/start", body),
  };
}

export type Api = ReturnType<typeof makeApi>;
