// Web wallet (SPEC §1: `/` and `/checkout/{sessionId}`). Talks only to the wallet app API (§10.2) and the
// WebSocket (§10.3). Everything from a merchant is rendered with textContent, never as HTML.
import { startAuthentication, startRegistration } from "@simplewebauthn/browser";
import { ApiError, makeApi, type CheckoutOutcome, serverNow, type HistoryItem, type Party, type ServerMessage as WsMessage, type Me, type Merchant, type Order, type PayResult, type SessionView } from "./api";
import type { WsPaymentRequest, WsPaymentUpdate } from "../src/app/schemas";
import { WalletSocket, type ConnState } from "./socket";
import { countdown, merchantIdentity, merchantName, partyName, transferText, money, safeHttpUrl, statusText, when, type Tone } from "./format";
import { itemsMismatch } from "./order-math";
import { noteConn, noteNetworkFailure, refreshConnControls, setSignedIn } from "./conn-banner";
import { renderCodes, startCodes, stopCodes } from "./codes";
import { byId, h } from "./dom";
import { closeSheet, initScan } from "./scan";
import { initKyc, renderKyc } from "./kyc";

const TOKEN_KEY = "oc.token";
const REDIRECT_DELAY_MS = 1200;

// ---------------------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------------------
const errorText = (e: unknown) => (e instanceof ApiError ? e.message : "Something went wrong. Please try again.");
/** Shows an error; one caused by the network is marked so the offline banner clears it once the server is back. */
function showError(el: HTMLElement, e: unknown, text = errorText(e)) {
  el.textContent = text;
  if (e instanceof ApiError && e.code === "NETWORK") {
    el.dataset.networkError = "1";
    noteNetworkFailure();
  } else delete el.dataset.networkError;
}
let uid = 0;

// ---------------------------------------------------------------------------------------------------
// Countdowns: one 1 s ticker for every visible deadline
// ---------------------------------------------------------------------------------------------------
type Countdown = { el: HTMLElement; deadline: number; label: (left: string) => string; onExpire: () => void };
const countdowns = new Set<Countdown>();
function addCountdown(c: Countdown) {
  countdowns.add(c);
  tickOne(c);
}
function tickOne(c: Countdown) {
  if (!c.el.isConnected && c.el.dataset.armed === "1") return void countdowns.delete(c);
  c.el.dataset.armed = "1";
  const left = c.deadline - serverNow() / 1000;
  if (left <= 0) {
    countdowns.delete(c);
    c.el.classList.add("expired");
    c.onExpire();
  } else c.el.textContent = c.label(countdown(left));
}
setInterval(() => countdowns.forEach(tickOne), 1000);

// ---------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let me: Me | null = null;
let socket: WalletSocket | null = null;
let readyCount = 0;
const checkoutMatch = /^\/checkout\/([^/]+)\/?$/.exec(location.pathname);
const checkoutId = checkoutMatch ? decodeURIComponent(checkoutMatch[1]!) : null;
const api = makeApi(
  () => token,
  () => signOut("Your sign-in is no longer valid. Please sign in again."),
);

type ViewName = "signin" | "wallet" | "checkout" | "enrol";
function show(view: ViewName, focus: boolean) {
  byId("loading").hidden = true;
  for (const v of ["signin", "wallet", "checkout", "enrol"] as const) byId(`view-${v}`).hidden = v !== view;
  byId("signout").hidden = view === "signin" || view === "enrol";
  if (focus) byId(`${view}-title`).focus();
}

// ---------------------------------------------------------------------------------------------------
// Order card: the payment prompt on the wallet page and the order on the checkout page
// ---------------------------------------------------------------------------------------------------
const RANK: Record<string, number> = { awaiting_confirmation: 0, confirmed: 1, in_review: 2 };
const rank = (s: string) => RANK[s] ?? 3;

type Card = {
  el: HTMLElement;
  heading: HTMLElement;
  status: string;
  setStatus(status: string): void;
  setBusy(busy: boolean): void;
  setError(msg: string, cause?: unknown): void;
  footer: HTMLElement;
};

function orderCard(o: {
  sessionId: string;
  merchant: Merchant | null;
  order: Order;
  deadline: number | null;
  status: string;
  onConfirm: () => void;
  onDecline: () => void;
}): Card {
  const id = `order-${++uid}`;
  const name = merchantName(o.merchant ?? { ocid: o.order.ocid });
  const heading = h("h3", { id: `${id}-title`, tabindex: "-1" }, `${name} requests ${money(o.order.amount, o.order.currency)}`);
  const items = Array.isArray(o.order.items) ? o.order.items : [];
  const itemList = items.length
    ? h(
        "ul",
        { class: "items", "aria-label": "Items" },
        ...items.map((it) =>
          h("li", {}, h("span", { class: "name" }, String(it.name ?? it.id ?? "Item")), h("span", { class: "qty" }, `${Number(it.quantity ?? 1)} × ${String(it.price ?? "")}`)),
        ),
      )
    : null;
  const ref = o.order.reference ? `Order ${o.order.reference}` : `Order ${o.order.id}`;
  const sum = itemsMismatch(o.order);
  const mismatch = sum
    ? h("p", { class: "mismatch", role: "note" }, `The items add up to ${money(sum, o.order.currency)}, not the total of ${money(o.order.amount, o.order.currency)}. Check with the merchant before you confirm.`)
    : null;
  const timer = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
  const statusEl = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const errorEl = h("p", { class: "error", role: "alert" });
  const confirmBtn = h("button", { type: "button", class: "primary confirm", "aria-describedby": `${id}-title`, "data-needs-server": true }, "Confirm");
  const declineBtn = h("button", { type: "button", class: "danger decline", "aria-describedby": `${id}-title` }, "Decline");
  const actions = h("div", { class: "actions" }, confirmBtn, declineBtn);
  const footer = h("div", { class: "footer" });
  const el = h(
    "article",
    { class: "card order", "data-session": o.sessionId, "aria-labelledby": `${id}-title` },
    heading,
    h("p", { class: "merchant-id" }, merchantIdentity(o.merchant ?? { ocid: o.order.ocid })),
    h("p", { class: "merchant" }, ref),
    itemList,
    mismatch,
    o.order.memo ? h("p", { class: "memo" }, String(o.order.memo)) : null,
    h("p", { class: "total" }, h("span", {}, "Total"), h("strong", { class: "amount" }, money(o.order.amount, o.order.currency))),
    timer,
    actions,
    statusEl,
    errorEl,
    footer,
  );
  confirmBtn.addEventListener("click", o.onConfirm);
  declineBtn.addEventListener("click", o.onDecline);

  const card: Card = {
    el,
    heading,
    status: "",
    footer,
    setStatus(status) {
      if (card.status && (rank(status) < rank(card.status) || (rank(card.status) === 3 && status !== card.status))) return;
      card.status = status;
      el.dataset.status = status;
      const s = statusText(status);
      statusEl.textContent = status === "awaiting_confirmation" ? "" : s.text;
      if (s.tone) statusEl.dataset.tone = s.tone;
      else delete statusEl.dataset.tone;
      if (status !== "awaiting_confirmation") {
        actions.remove();
        timer.remove();
      }
      if (s.final) el.dataset.final = "true";
    },
    setBusy(busy) {
      confirmBtn.disabled = busy;
      declineBtn.disabled = busy;
      el.setAttribute("aria-busy", String(busy));
    },
    setError(msg, cause) {
      showError(errorEl, cause, msg);
    },
  };
  card.setStatus(o.status);
  if (o.status === "awaiting_confirmation" && o.deadline)
    addCountdown({ el: timer, deadline: o.deadline, label: (l) => `Answer within ${l}`, onExpire: () => card.setStatus("expired") });
  return card;
}

/** Confirm or decline over HTTP; the WebSocket brings the later changes (paid, failed…). */
async function answer(card: Card, sessionId: string, kind: "confirm" | "decline") {
  card.setBusy(true);
  card.setError("");
  try {
    const r = await (kind === "confirm" ? api.confirm(sessionId) : api.decline(sessionId));
    card.setStatus(r.status);
    return r;
  } catch (e) {
    if (e instanceof ApiError && e.code === "INVALID_STATE" && typeof e.details?.status === "string") card.setStatus(e.details.status);
    else if (e instanceof ApiError && e.code === "INSUFFICIENT_FUNDS") card.setError("Your balance is too low for this payment.");
    else card.setError(errorText(e), e);
    card.setBusy(false);
    refreshConnControls();
    return null;
  } finally {
    scheduleRefresh();
  }
}

// ---------------------------------------------------------------------------------------------------
// Wallet page
// ---------------------------------------------------------------------------------------------------
const prompts = new Map<string, Card>();
let qr: PayResult | null = null;
let historyCursor: string | undefined;

function renderMe() {
  if (!me) return;
  byId("user-name").textContent = me.user.name;
  const list = byId("balances");
  list.replaceChildren(
    ...me.balances.map((b) => h("li", { "data-currency": b.currency }, h("span", { class: "amount" }, b.amount), h("span", { class: "cur" }, b.currency))),
  );
  if (me.balances.length === 0) list.append(h("li", {}, "No balance yet"));
  renderPeoplePanels();
}

// ---------------------------------------------------------------------------------------------------
// Send, receive, top up (issue 17)
// ---------------------------------------------------------------------------------------------------
type SendDraft = { to: string | number; amount: string; currency: string; memo?: string; idempotencyKey: string };
let draft: SendDraft | null = null;
const AMOUNT_RE = /^[0-9]+(\.[0-9]+)?$/;

function fillCurrencies(select: HTMLSelectElement) {
  if (!me) return;
  const keep = select.value;
  select.replaceChildren(...me.balances.map((b) => h("option", { value: b.currency }, b.currency)));
  if (keep && me.balances.some((b) => b.currency === keep)) select.value = keep;
}

function renderPeoplePanels() {
  if (!me) return;
  fillCurrencies(byId<HTMLSelectElement>("send-currency"));
  fillCurrencies(byId<HTMLSelectElement>("topup-currency"));
  byId("my-handle").textContent = me.user.name;
}

/** Step 1 → 2: check the form, then show what will be sent, under a fresh idempotency key. */
function onSendReview(ev: SubmitEvent) {
  ev.preventDefault();
  const to = byId<HTMLInputElement>("send-to").value.trim();
  const amount = byId<HTMLInputElement>("send-amount").value.trim();
  const currency = byId<HTMLSelectElement>("send-currency").value;
  const memo = byId<HTMLInputElement>("send-memo").value.trim();
  const err = byId("send-error");
  if (!to) return void ((err.textContent = "Enter who to send to."), byId("send-to").focus());
  if (!AMOUNT_RE.test(amount)) return void ((err.textContent = "Enter an amount like 12.50."), byId("send-amount").focus());
  err.textContent = "";
  draft = { to: /^[1-9][0-9]*$/.test(to) ? Number(to) : to, amount, currency, idempotencyKey: `web-${crypto.randomUUID()}` };
  if (memo) draft.memo = memo;
  byId("review-to").textContent = typeof draft.to === "number" ? `OCID ${draft.to}` : to;
  byId("review-amount").textContent = money(amount, currency);
  byId("review-memo").textContent = memo || "—";
  byId("send-form").hidden = true;
  byId("send-review").hidden = false;
  byId("send-result").textContent = "";
  byId("send-review-title").focus();
}

function backToSendForm(clear: boolean) {
  draft = null;
  byId("send-review").hidden = true;
  byId("send-form").hidden = false;
  if (clear) {
    byId<HTMLFormElement>("send-form").reset();
    renderPeoplePanels();
  }
}

function showTransfer(t: { status: string; amount: string; currency: string; to: Party }) {
  const text = transferText(t.status);
  const result = byId("send-result");
  result.textContent = `${text.text}: ${money(t.amount, t.currency)} to ${partyName(t.to)}`;
  result.dataset.tone = text.tone;
  result.dataset.status = t.status;
}

/** Step 3: send. A retry after a network error reuses the draft's key, so it can never pay twice. */
async function onSendConfirm() {
  if (!draft) return;
  const btn = byId<HTMLButtonElement>("send-confirm");
  btn.disabled = true;
  const result = byId("send-result");
  try {
    const r = await api.transfer(draft);
    showTransfer(r.transfer);
    backToSendForm(true);
  } catch (e) {
    if (e instanceof ApiError && e.status === 0) result.textContent = "Not sent yet: check your connection and tap Send again.";
    else {
      result.textContent = e instanceof ApiError && e.code === "INSUFFICIENT_FUNDS" ? "Your balance is too low for this transfer." : errorText(e);
      result.dataset.tone = "bad";
      delete result.dataset.status;
      backToSendForm(false);
    }
  } finally {
    btn.disabled = false;
    scheduleRefresh();
  }
}

async function onShowReceive() {
  const err = byId("receive-error");
  err.textContent = "";
  try {
    const r = await api.receiveQr();
    const img = byId<HTMLImageElement>("receive-img");
    img.src = r.qrCode;
    img.dataset.payload = r.qrText;
    byId("receive-ocid").textContent = `Your OCID: ${r.qrPayload.ocid} (gateway ${r.qrPayload.gateway})`;
    byId("receive-box").hidden = false;
  } catch (e) {
    err.textContent =
      e instanceof ApiError && e.details?.reason === "no_ocid" ? "You have no OCID yet: share your handle instead (people at this gateway can use it)." : errorText(e);
  }
}

async function onCopyHandle() {
  const handle = me?.user.name ?? "";
  const status = byId("copy-status");
  try {
    await navigator.clipboard.writeText(handle);
    status.textContent = "Handle copied.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(byId("my-handle"));
    window.getSelection()?.removeAllRanges();
    window.getSelection()?.addRange(range);
    status.textContent = "Handle selected: copy it.";
  }
}

async function onTopup(ev: SubmitEvent) {
  ev.preventDefault();
  const via = byId<HTMLInputElement>("topup-via").value.trim();
  const amount = byId<HTMLInputElement>("topup-amount").value.trim();
  const currency = byId<HTMLSelectElement>("topup-currency").value;
  const err = byId("topup-error");
  if (!/^[1-9][0-9]*$/.test(via)) return void ((err.textContent = "Enter the gateway's OCID (a number)."), byId("topup-via").focus());
  if (!AMOUNT_RE.test(amount)) return void ((err.textContent = "Enter an amount like 20.00."), byId("topup-amount").focus());
  err.textContent = "";
  try {
    const r = await api.topup({ via: Number(via), amount, currency });
    const url = safeHttpUrl(r.checkoutUrl);
    if (!url) throw new ApiError(0, "BAD_URL", "That gateway gave no usable payment page.");
    byId("topup-status").textContent = "Taking you to the payment page…";
    location.assign(url);
  } catch (e) {
    err.textContent = errorText(e);
  }
}

/** Back from another gateway's checkout (`/?topup=<id>`): say where the top-up stands. */
async function showTopupReturn() {
  const id = new URLSearchParams(location.search).get("topup");
  if (!id) return;
  const status = byId("topup-status");
  try {
    const t = await api.topupStatus(id);
    status.textContent =
      t.status === "credited" ? `Top-up of ${money(t.amount, t.currency)} received.` : `Top-up of ${money(t.amount, t.currency)}: waiting for gateway ${t.via} to confirm…`;
    status.dataset.status = t.status;
  } catch {
    status.textContent = "";
  }
}

function onCreditReceived(m: Extract<WsMessage, { type: "credit_received" }>) {
  const note = byId("credit-note");
  note.textContent = `${m.kind === "topup" ? "Top-up received" : "Received"}: ${money(m.amount, m.currency)} from ${partyName(m.from)}`;
  note.hidden = false;
  scheduleRefresh();
  void showTopupReturn();
}

function onTransferUpdate(m: Extract<WsMessage, { type: "transfer_update" }>) {
  showTransfer(m.transfer);
  scheduleRefresh();
}

function transferRow(it: Extract<HistoryItem, { kind: "sent" | "received" }>) {
  const sent = it.kind === "sent";
  const t = transferText(it.status);
  const badge = !sent ? "Received" : it.status === "paid" ? "Sent" : it.status === "pending" ? "Sending" : "Returned";
  return h(
    "li",
    { "data-kind": it.kind, "data-status": it.status },
    h("span", { class: "what" }, `${sent ? "To" : "From"} ${partyName(sent ? it.to : it.from)}`),
    h("span", { class: "amt" }, `${sent ? (it.status === "refunded" ? "" : "−") : "+"}${money(it.amount, it.currency)}`),
    it.memo ? h("span", { class: "who" }, it.memo) : null,
    h("span", { class: "meta" }, when(it.at)),
    h("span", { class: "badge", "data-tone": sent ? t.tone : "ok" }, badge),
  );
}


let refreshTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    if (!token) return;
    try {
      me = await api.me();
      renderMe();
      if (!checkoutId) await loadHistory(true);
      else renderCheckoutUser();
    } catch {
      /* shown on the next action */
    }
  }, 150);
}

function historyRow(it: HistoryItem) {
  if (it.kind === "payment") {
    const s = statusText(it.status);
    // Only money that left the balance gets a minus sign; declined, expired, waiting and refunded did not move.
    const amount = it.charged ? `−${money(it.amount, it.currency)}` : money(it.amount, it.currency);
    const badge = it.charged ? s.short : it.status === "awaiting_confirmation" ? "Waiting · not charged" : `${s.short} · not charged`;
    return h(
      "li",
      { "data-status": it.status, "data-session": it.sessionId, "data-charged": String(it.charged) },
      h("span", { class: "what" }, merchantName(it.merchant)),
      h("span", { class: it.charged ? "amt" : "amt not-charged" }, amount),
      h("span", { class: "who" }, merchantIdentity(it.merchant)),
      h("span", { class: "meta" }, when(it.receivedAt)),
      h("span", { class: "badge", "data-tone": s.tone }, badge),
    );
  }
  if (it.kind === "sent" || it.kind === "received") return transferRow(it);
  const from =
    it.kind === "topup"
      ? `Top-up via ${partyName(it.from ?? { gateway: typeof it.issuer === "number" ? it.issuer : undefined })}`
      : it.from
        ? `From ${partyName(it.from)}`
        : typeof it.issuer === "number"
          ? `Top-up from ${it.issuer}`
          : it.issuer === "funding"
            ? "Funding"
            : "Top-up";
  return h(
    "li",
    { "data-kind": it.kind },
    h("span", { class: "what" }, from),
    h("span", { class: "amt" }, `+${money(it.amount, it.currency)}`),
    h("span", { class: "meta" }, when(it.at)),
    h("span", { class: "badge", "data-tone": "ok" }, "Received"),
  );
}

async function loadHistory(reset: boolean) {
  const list = byId("history");
  const more = byId<HTMLButtonElement>("history-more");
  more.disabled = true;
  try {
    const page = await api.history(reset ? undefined : historyCursor);
    if (reset) list.replaceChildren();
    list.append(...page.items.map(historyRow));
    historyCursor = page.nextBefore;
    more.hidden = !page.nextBefore;
    byId("history-empty").hidden = list.childElementCount > 0;
  } finally {
    more.disabled = false;
  }
}

function showQr(r: PayResult) {
  qr = r;
  const img = byId<HTMLImageElement>("qr-img");
  img.src = r.qrCode;
  img.dataset.session = r.sessionId;
  byId("qr-text").textContent = r.qrText;
  byId("qr-box").hidden = false;
  byId("pay").hidden = true;
  byId("scan").hidden = true;
  byId("pay-help").hidden = true;
  // Phone first: the whole code, its countdown and Cancel must fit the screen (a scanner needs all three finder
  // patterns), so the balances step aside while a code is shown and the code is scrolled to the top.
  byId("balances-card").hidden = true;
  const timer = byId("qr-countdown");
  timer.classList.remove("expired");
  delete timer.dataset.armed;
  addCountdown({
    el: timer,
    deadline: r.expiresAt,
    label: (l) => `Expires in ${l}`,
    onExpire: () => {
      if (qr?.sessionId !== r.sessionId) return;
      hideQr(true);
      byId("pay-error").textContent = "That code expired. Tap Pay for a new one.";
    },
  });
  byId("qr-title").focus({ preventScroll: true });
  byId("qr-box").scrollIntoView({ block: "start" });
  void renderCodes();
}

function hideQr(focusPay: boolean) {
  qr = null;
  byId("qr-box").hidden = true;
  byId<HTMLImageElement>("qr-img").removeAttribute("src");
  byId("qr-text").textContent = "";
  byId("pay").hidden = false;
  byId("scan").hidden = false;
  byId("pay-help").hidden = false;
  byId("balances-card").hidden = false;
  if (focusPay) byId("pay").focus();
  void renderCodes();
}

async function onPay() {
  const btn = byId<HTMLButtonElement>("pay");
  btn.disabled = true;
  byId("pay-error").textContent = "";
  try {
    showQr(await api.pay());
  } catch (e) {
    showError(
      byId("pay-error"),
      e,
      e instanceof ApiError && e.code === "RATE_LIMITED" ? "Too many open pay codes. Cancel one in the list below, or wait a few minutes." : errorText(e),
    );
    void renderCodes();
  } finally {
    btn.disabled = false;
    refreshConnControls();
  }
}

async function onCancelQr() {
  if (!qr) return;
  const id = qr.sessionId;
  hideQr(true);
  try {
    await api.decline(id);
  } catch {
    /* an order may have just arrived: its prompt shows up over the socket */
  }
}

function onPaymentRequest(m: WsPaymentRequest) {
  if (checkoutId || typeof m.sessionId !== "string" || !m.order) return;
  if (qr?.sessionId === m.sessionId) hideQr(false);
  if (prompts.has(m.sessionId)) return; // every (re)connect replays pending requests (§10.3)
  const sessionId: string = m.sessionId;
  const card: Card = orderCard({
    sessionId,
    merchant: m.merchant ?? null,
    order: m.order as Order,
    deadline: typeof m.expiresAt === "number" ? m.expiresAt : null,
    status: "awaiting_confirmation",
    onConfirm: () => void answer(card, sessionId, "confirm"),
    onDecline: () => void answer(card, sessionId, "decline"),
  });
  const done = h("button", { type: "button", class: "secondary wide done" }, "Done");
  done.addEventListener("click", () => {
    card.el.remove();
    prompts.delete(sessionId);
    byId("pay").focus();
  });
  const origSet = card.setStatus;
  card.setStatus = (s) => {
    origSet(s);
    if (statusText(card.status).final && !done.isConnected) card.footer.append(done);
  };
  prompts.set(sessionId, card);
  byId("prompts").prepend(card.el);
  card.heading.focus();
}

function onPaymentUpdate(m: WsPaymentUpdate) {
  if (typeof m.sessionId !== "string" || typeof m.status !== "string") return;
  prompts.get(m.sessionId)?.setStatus(m.status);
  if (checkoutCard && m.sessionId === checkoutId) checkoutCard.setStatus(m.status);
  scheduleRefresh();
}

/** After a reconnect: anything that changed while we were away is read back from the API. */
async function resync() {
  scheduleRefresh();
  for (const [id, card] of prompts) {
    if (statusText(card.status).final) continue;
    try {
      const v = await api.session(id);
      if (v.status) card.setStatus(v.status);
    } catch {
      /* keep what we show */
    }
  }
  if (qr) {
    try {
      const v = await api.session(qr.sessionId);
      if (v.sessionStatus !== "pending") hideQr(false);
    } catch {
      /* keep showing */
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Hosted checkout page (§9.6)
// ---------------------------------------------------------------------------------------------------
let checkoutCard: Card | null = null;
let checkoutView: SessionView | null = null;

function renderCheckoutUser() {
  if (!me) return;
  const cur = checkoutView?.order?.currency;
  const bal = cur ? me.balances.find((b) => b.currency === cur) : undefined;
  byId("checkout-user").textContent = `Signed in as ${me.user.name}` + (bal ? ` · Balance ${money(bal.amount, bal.currency)}` : "");
}

/** §9.6 spells them success/cancel, §9.4 completed/cancelled: a checkout may carry either. */
function returnUrl(v: SessionView, kind: "success" | "cancel"): string | undefined {
  const u = v.urls;
  return kind === "success" ? (u?.success ?? u?.completed) : (u?.cancel ?? u?.cancelled);
}

/** Before sign-in: the order the shopper is asked to pay, read-only (issue 19). */
async function showCheckoutPreview() {
  const box = byId("checkout-preview");
  try {
    const v = await api.checkoutPreview(checkoutId!);
    if (!v.order) return;
    const card = orderCard({
      sessionId: v.sessionId,
      merchant: v.merchant,
      order: v.order,
      deadline: v.confirmBy ?? v.expiresAt,
      status: v.status ?? "awaiting_confirmation",
      onConfirm: () => undefined,
      onDecline: () => undefined,
    });
    card.el.classList.add("preview");
    card.el.querySelector(".actions")?.remove(); // answering needs a signed-in user
    box.replaceChildren(card.el);
  } catch {
    box.replaceChildren(); // answered or unknown: signing in tells which
  }
}

/**
 * Approve on the phone (issue 22): before sign-in the checkout page shows a QR of its own URL; the shopper opens it
 * on the phone the wallet is on (camera or the wallet's Scan) and answers there, and this page follows the outcome
 * (polling the public status view) to the merchant's success or cancel URL.
 */
const APPROVE_POLL_MS = 1500;
function startApproveOnPhone() {
  const box = byId("approve-box");
  const img = byId<HTMLImageElement>("approve-qr");
  img.onload = () => (box.hidden = !!token);
  img.onerror = () => (box.hidden = true);
  const poll = async () => {
    if (token) return; // signed in on this page: it answers itself
    try {
      const o = await api.checkoutStatus(checkoutId!);
      if (o.final) return followOutcome(o);
      // Only an open checkout has a code to scan (answered or unknown ones are for signing in to see).
      if (!img.getAttribute("src")) img.src = `/app/checkout/${encodeURIComponent(checkoutId!)}/qr.svg`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
    }
    setTimeout(() => void poll(), APPROVE_POLL_MS);
  };
  void poll();
}

function followOutcome(o: CheckoutOutcome) {
  // An outcome already final when the page opened is for signing in to see (a link back), not to leave at once.
  if (token || !byId<HTMLImageElement>("approve-qr").getAttribute("src")) return;
  const good = o.status === "confirmed" || o.status === "paid" || o.status === "in_review";
  const status = byId("approve-status");
  byId("approve-qr").hidden = true;
  byId("approve-box").hidden = false;
  const safe = safeHttpUrl(o.redirect);
  status.textContent = (good ? "Approved on your phone." : "This payment did not go through.") + (safe ? " Taking you back to the merchant…" : " You can close this page.");
  if (safe) setTimeout(() => location.assign(safe), REDIRECT_DELAY_MS);
}

function leave(card: Card, url: string | undefined, text: string) {
  const safe = safeHttpUrl(url);
  if (!safe) {
    card.footer.replaceChildren(h("p", { class: "muted" }, "You can close this page."));
    return;
  }
  const link = h("a", { href: safe, class: "return", rel: "noreferrer" }, "Return to the merchant");
  card.footer.replaceChildren(h("p", {}, text), link);
  setTimeout(() => location.assign(safe), REDIRECT_DELAY_MS);
}

async function loadCheckout() {
  const body = byId("checkout-body");
  byId("checkout-error").textContent = "";
  body.replaceChildren(h("p", { class: "muted" }, "Loading the order…"));
  let v: SessionView;
  try {
    v = await api.session(checkoutId!);
  } catch (e) {
    body.replaceChildren();
    byId("checkout-error").textContent =
      e instanceof ApiError && e.code === "SESSION_NOT_FOUND"
        ? "This checkout does not exist or has ended."
        : e instanceof ApiError && e.code === "UNAUTHORIZED"
          ? "This checkout belongs to another wallet user."
          : errorText(e);
    return;
  }
  checkoutView = v;
  renderCheckoutUser();
  if (!v.order) {
    body.replaceChildren(h("p", {}, "There is no order to pay here."));
    return;
  }
  const id = v.sessionId;
  const status = v.status ?? "awaiting_confirmation";
  const card: Card = orderCard({
    sessionId: id,
    merchant: v.merchant,
    order: v.order,
    deadline: v.confirmBy ?? v.expiresAt,
    status,
    onConfirm: async () => {
      const r = await answer(card, id, "confirm");
      if (r && rank(r.status) >= 1 && r.status !== "declined" && r.status !== "expired" && r.status !== "failed")
        leave(card, r.redirect ?? returnUrl(v, "success"), "Payment confirmed. Taking you back to the merchant…");
      else if (r || rank(card.status) === 3) leave(card, returnUrl(v, "cancel"), "This payment did not go through. Taking you back to the merchant…");
    },
    onDecline: async () => {
      const r = await answer(card, id, "decline");
      if (r) leave(card, r.redirect ?? returnUrl(v, "cancel"), "Payment declined. Taking you back to the merchant…");
    },
  });
  checkoutCard = card;
  body.replaceChildren(card.el);
  if (status !== "awaiting_confirmation") {
    const good = status === "confirmed" || status === "paid" || status === "in_review";
    const url = safeHttpUrl(good ? returnUrl(v, "success") : returnUrl(v, "cancel"));
    if (url) card.footer.replaceChildren(h("a", { href: url, class: "return", rel: "noreferrer" }, "Return to the merchant"));
  }
}

// ---------------------------------------------------------------------------------------------------
// Passkeys (issue 22): WebAuthn through @simplewebauthn/browser, bundled into this script
// ---------------------------------------------------------------------------------------------------
/** What went wrong, in words a person can act on. The browser's own errors come as DOMException names. */
function passkeyErrorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  const name = (e as { name?: string } | null)?.name;
  if (name === "NotAllowedError" || name === "AbortError") return "The passkey prompt was closed or timed out. Try again.";
  if (name === "InvalidStateError") return "This device already holds a passkey for this wallet.";
  if (name === "SecurityError") return "Passkeys need this wallet to be opened at its own address (a domain name).";
  if (name === "NotSupportedError") return "This browser cannot use passkeys here.";
  return "The passkey did not work. Please try again.";
}

async function createPasskey(name: string, withToken?: string) {
  const optionsJSON = await api.passkeyRegisterOptions(withToken);
  const response = await startRegistration({ optionsJSON });
  return api.passkeyRegister(name, response, withToken);
}

async function onPasskeySignIn() {
  const btn = byId<HTMLButtonElement>("passkey-signin-btn");
  const err = byId("passkey-signin-error");
  btn.disabled = true;
  err.textContent = "";
  try {
    const optionsJSON = await api.passkeySignInOptions();
    const response = await startAuthentication({ optionsJSON });
    const grant = await api.passkeySignIn(response);
    await useSession(grant.token);
  } catch (e) {
    err.textContent = passkeyErrorText(e);
  } finally {
    btn.disabled = false;
  }
}

async function loadPasskeys() {
  const list = byId("passkeys");
  const r = await api.passkeys();
  list.replaceChildren(
    ...r.passkeys.map((p) => {
      const meta = `Added ${when(p.createdAt)} · ${p.lastUsedAt ? `last used ${when(p.lastUsedAt)}` : "not used yet"}${p.current ? " · signed in with it" : ""}`;
      const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove passkey ${p.name}` }, "Remove");
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        try {
          await api.passkeyRemove(p.id);
          await loadPasskeys();
        } catch (e) {
          byId("passkey-error").textContent = errorText(e);
          remove.disabled = false;
        }
      });
      return h("li", { "data-passkey": p.id }, h("span", { class: "pk-text" }, h("span", { class: "pk-name" }, p.name), h("span", { class: "pk-meta" }, meta)), remove);
    }),
  );
  byId("passkeys-empty").hidden = r.passkeys.length > 0;
}

async function onAddPasskey(ev: SubmitEvent) {
  ev.preventDefault();
  const input = byId<HTMLInputElement>("passkey-name");
  const btn = (ev.target as HTMLFormElement).querySelector("button")!;
  const err = byId("passkey-error");
  err.textContent = "";
  if (!input.value.trim()) {
    err.textContent = "Give the passkey a name (e.g. the device it is on).";
    return input.focus();
  }
  btn.disabled = true;
  try {
    await createPasskey(input.value.trim());
    await loadPasskeys();
  } catch (e) {
    err.textContent = passkeyErrorText(e);
  } finally {
    btn.disabled = false;
  }
}

/** `/#enrol=<token>`: the operator's one-time link. The token stays in memory only and leaves the address bar. */
let enrolToken: string | null = null;
async function startEnrolment(t: string) {
  enrolToken = t;
  history.replaceState(null, "", location.pathname + location.search);
  show("enrol", false);
  try {
    const r = await api.passkeys(t);
    byId("enrol-who").textContent = `For ${r.user.name}`;
  } catch (e) {
    enrolToken = null;
    byId("enrol-error").textContent =
      e instanceof ApiError && e.status === 401 ? "This link has expired or was already used. Ask your wallet operator for a new one." : errorText(e);
  }
}

async function onEnrol(ev: SubmitEvent) {
  ev.preventDefault();
  const input = byId<HTMLInputElement>("enrol-name");
  const btn = (ev.target as HTMLFormElement).querySelector("button")!;
  const err = byId("enrol-error");
  err.textContent = "";
  if (!enrolToken) return void (err.textContent = "This link has expired or was already used. Ask your wallet operator for a new one.");
  if (!input.value.trim()) return void (err.textContent = "Give the passkey a name (e.g. the device it is on).");
  btn.disabled = true;
  try {
    const r = await createPasskey(input.value.trim(), enrolToken);
    enrolToken = null;
    if (r.session) await useSession(r.session.token);
  } catch (e) {
    err.textContent = passkeyErrorText(e);
  } finally {
    btn.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Sign-in, socket, boot
// ---------------------------------------------------------------------------------------------------
function setConn(s: ConnState) {
  const el = byId("conn");
  el.dataset.state = s;
  el.textContent = s === "online" ? "Live" : s === "connecting" ? "Connecting…" : "Offline — retrying";
  noteConn(s);
}

function startSocket() {
  if (socket || !token) return;
  readyCount = 0;
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/app/ws`;
  socket = new WalletSocket(url, token, {
    state: setConn,
    unauthorized: () => signOut("Your sign-in is no longer valid. Please sign in again."),
    message: (m) => {
      if (m.type === "ready" && readyCount++ > 0) void resync();
      else if (m.type === "payment_request") onPaymentRequest(m);
      else if (m.type === "payment_update") onPaymentUpdate(m);
      else if (m.type === "credit_received") onCreditReceived(m);
      else if (m.type === "transfer_update") onTransferUpdate(m);
    },
  });
  socket.start();
}

async function enter(focus: boolean) {
  setSignedIn(true);
  startSocket();
  if (checkoutId) {
    show("checkout", focus);
    renderCheckoutUser();
    await loadCheckout();
  } else {
    renderMe();
    show("wallet", focus);
    startCodes(api, (id) => {
      if (qr?.sessionId === id) hideQr(false);
    });
    await loadHistory(true).catch(() => undefined);
    await showTopupReturn();
    await loadPasskeys().catch(() => undefined);
    await renderKyc(api, Boolean(me?.user.ocid));
  }
}

function signOut(message?: string) {
  void closeSheet({ silent: true });
  // Signing out cancels the open pay codes (nobody is left to answer an order sent to them), then revokes the
  // session on the server too. Best effort: a sign-out while offline still forgets the token here.
  if (token && !message) {
    const t = token;
    void api.cancelCodes(t).catch(() => undefined).then(() => api.signOut(t)).catch(() => undefined);
  }
  setSignedIn(false);
  stopCodes();
  socket?.stop();
  socket = null;
  token = null;
  me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  prompts.clear();
  byId("prompts").replaceChildren();
  if (qr) hideQr(false);
  byId("history").replaceChildren();
  byId("codes").replaceChildren();
  byId("codes-card").hidden = true;
  byId("passkeys").replaceChildren();
  byId("checkout-body").replaceChildren();
  checkoutCard = null;
  setConn("offline");
  show("signin", true);
  byId("signin-error").textContent = message ?? "";
}

/** The tab keeps only a short-lived session: an operator token is exchanged for one, never stored. */
async function signInWith(operatorToken: string) {
  const grant = await api.startSession(operatorToken);
  await useSession(grant.token);
}

async function useSession(t: string) {
  me = await api.me(t);
  token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  byId<HTMLInputElement>("token").value = "";
  byId("signin-error").textContent = "";
  await enter(true);
}

async function onSignIn(ev: SubmitEvent) {
  ev.preventDefault();
  const input = byId<HTMLInputElement>("token");
  const btn = (ev.target as HTMLFormElement).querySelector("button")!;
  const t = input.value.trim();
  if (!t) {
    byId("signin-error").textContent = "Enter your access token.";
    input.setAttribute("aria-invalid", "true");
    return input.focus();
  }
  btn.disabled = true;
  try {
    await signInWith(t);
    input.removeAttribute("aria-invalid");
  } catch (e) {
    byId("signin-error").textContent = e instanceof ApiError && e.status === 401 ? "That token was not accepted." : errorText(e);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } finally {
    btn.disabled = false;
  }
}

async function onDemoLogin() {
  const btn = byId<HTMLButtonElement>("demo-login");
  btn.disabled = true;
  try {
    const r = await api.demoLogin();
    await signInWith(r.token);
  } catch (e) {
    byId("signin-error").textContent = errorText(e);
  } finally {
    btn.disabled = false;
  }
}

async function boot() {
  byId("signin-form").addEventListener("submit", (e) => void onSignIn(e as SubmitEvent));
  byId("demo-login").addEventListener("click", () => void onDemoLogin());
  byId("passkey-signin-btn").addEventListener("click", () => void onPasskeySignIn());
  byId("passkey-add").addEventListener("submit", (e) => void onAddPasskey(e as SubmitEvent));
  byId("enrol-form").addEventListener("submit", (e) => void onEnrol(e as SubmitEvent));
  byId("demo-box").hidden = document.body.dataset.demo !== "true";
  byId("signout").addEventListener("click", () => signOut());
  byId("pay").addEventListener("click", () => void onPay());
  byId("qr-cancel").addEventListener("click", () => void onCancelQr());
  // Issue 13: the Scan sheet shows scanned orders on the same card as payment requests, tracked like them.
  initScan({
    api,
    orderCard,
    answer,
    track: (id, card) => prompts.set(id, card as Card),
    untrack: (id) => prompts.delete(id),
    refresh: scheduleRefresh,
    errorText,
    prefillTransfer: (t) => {
      backToSendForm(false);
      byId<HTMLInputElement>("send-to").value = String(t.to);
      byId("send-to-help").textContent = `${t.name ?? `OCID ${t.to}`} at gateway ${t.gateway} (from their receive code).`;
      byId<HTMLInputElement>("send-amount").focus();
    },
  });
  byId("history-more").addEventListener("click", () => void loadHistory(false).catch(() => undefined));
  byId("send-form").addEventListener("submit", (e) => onSendReview(e as SubmitEvent));
  byId("send-confirm").addEventListener("click", () => void onSendConfirm());
  byId("send-back").addEventListener("click", () => backToSendForm(false));
  byId("show-receive").addEventListener("click", () => void onShowReceive());
  byId("copy-handle").addEventListener("click", () => void onCopyHandle());
  byId("topup-form").addEventListener("submit", (e) => void onTopup(e as SubmitEvent));
  initKyc(api, () => Boolean(me?.user.ocid));
  window.addEventListener("online", () => socket?.nudge());
  if (checkoutId) {
    const ctx = byId("signin-context");
    ctx.textContent = "Sign in to review and pay this order.";
    ctx.hidden = false;
    if (!token) {
      void showCheckoutPreview();
      startApproveOnPhone();
    }
    document.title = `Checkout — ${document.title}`;
  }
  const enrol = /^#enrol=([0-9a-f]{64})$/.exec(location.hash);
  if (enrol) return startEnrolment(enrol[1]!);
  if (token) {
    try {
      me = await api.me();
      return await enter(false);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        show("signin", false);
        byId("signin-error").textContent = errorText(e);
      }
      return;
    }
  }
  show("signin", false);
}

void boot();
