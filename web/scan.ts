// Issue 13, pay by scanning: the Scan sheet. The camera (getUserMedia) is read with BarcodeDetector where the
// browser has one and with the bundled jsQR decoder otherwise; "Paste code" and "Choose image" work without a
// camera. What was read goes to POST /app/scan; the answer is previewed with the merchant's identity as the
// directory knows it (name, OCID, host of its registered endpoint), then confirmed or declined like any payment
// request (the same order card, the same WebSocket updates). Inventories get a quantity picker first.
import jsQR from "jsqr";
import { ApiError, type Api, type AnswerResult, type Inventory, type ScanMerchant, type ScanResult, type Order, type Merchant } from "./api";
import { byId, h } from "./dom";
import { merchantIdentity, merchantName, money, statusText } from "./format";

/** What the wallet page lends the sheet: its order card and answer logic, and its map of live cards. */
export type ScanCard = { el: HTMLElement; heading: HTMLElement; status: string; footer: HTMLElement; setStatus(status: string): void };
export type ScanDeps = {
  api: Api;
  orderCard(o: { sessionId: string; merchant: Merchant | null; order: Order; deadline: number | null; status: string; onConfirm: () => void; onDecline: () => void }): ScanCard;
  answer(card: ScanCard, sessionId: string, kind: "confirm" | "decline"): Promise<AnswerResult | null>;
  track(sessionId: string, card: ScanCard): void;
  untrack(sessionId: string): void;
  refresh(): void;
  errorText(e: unknown): string;
  /** Issue 17: a person's receive code scanned: prefill the Send form with them. */
  prefillTransfer?: (t: TransferPrefill["transfer"]) => void;
};

let deps: ScanDeps;
/** The session the sheet is showing, and what closing it must do (decline an unanswered order). */
let current: { sessionId: string; card?: ScanCard; pending: boolean } | null = null;
let stream: MediaStream | null = null;
let frameTimer: ReturnType<typeof setTimeout> | undefined;
let generation = 0;

const sheet = () => byId("scan-sheet");
const body = () => byId("scan-body");
const button = (label: string, cls: string, onClick: () => void, attrs: Record<string, string> = {}) => {
  const b = h("button", { type: "button", class: cls, ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
};

export function initScan(d: ScanDeps) {
  deps = d;
  byId("scan").addEventListener("click", () => openSheet());
  byId("scan-close").addEventListener("click", () => void closeSheet());
  byId<HTMLInputElement>("scan-file").addEventListener("change", (e) => void onImage(e.target as HTMLInputElement));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !sheet().hidden) void closeSheet();
  });
}

function openSheet() {
  sheet().hidden = false;
  document.body.classList.add("sheet-open");
  showCamera();
  byId("scan-title").focus();
}

/** Closing answers for the user: an order left unanswered is declined, an inventory not ordered from is closed. */
export async function closeSheet(opts: { silent?: boolean } = {}) {
  stopCamera();
  generation++;
  const c = current;
  current = null;
  sheet().hidden = true;
  document.body.classList.remove("sheet-open");
  body().replaceChildren();
  if (c) {
    deps.untrack(c.sessionId);
    const open = c.card ? c.card.status === "awaiting_confirmation" : c.pending;
    if (open && !opts.silent) await deps.api.decline(c.sessionId).catch(() => undefined);
    deps.refresh();
  }
  if (!opts.silent) byId("scan").focus();
}

// ---------------------------------------------------------------------------------------------------- reading codes

type Source = HTMLVideoElement | ImageBitmap;
type Detector = { detect(src: Source): Promise<{ rawValue: string }[]> };

/** BarcodeDetector when the browser has one that reads QR codes, jsQR on a canvas otherwise (or when it finds nothing). */
async function makeDecoder(): Promise<(src: Source) => Promise<string | null>> {
  let detector: Detector | null = null;
  const BD = (window as unknown as { BarcodeDetector?: { new (o: unknown): Detector; getSupportedFormats?: () => Promise<string[]> } }).BarcodeDetector;
  if (BD) {
    try {
      const formats = (await BD.getSupportedFormats?.()) ?? ["qr_code"];
      if (formats.includes("qr_code")) detector = new BD({ formats: ["qr_code"] });
    } catch {
      detector = null;
    }
  }
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  return async (src) => {
    if (detector) {
      try {
        const found = await detector.detect(src);
        if (found[0]?.rawValue) return (document.body.dataset.decoder = "BarcodeDetector"), found[0].rawValue;
      } catch {
        /* fall through to jsQR */
      }
    }
    const w = src instanceof HTMLVideoElement ? src.videoWidth : src.width;
    const ht = src instanceof HTMLVideoElement ? src.videoHeight : src.height;
    if (!w || !ht) return null;
    const scale = Math.min(1, 960 / Math.max(w, ht));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(ht * scale);
    ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    if (code?.data) return (document.body.dataset.decoder = "jsQR"), code.data;
    return null;
  };
}

function stopCamera() {
  clearTimeout(frameTimer);
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
}

function showCamera() {
  stopCamera();
  const gen = ++generation;
  const video = h("video", { id: "scan-video", playsinline: true, muted: true, "aria-label": "Camera preview" });
  const status = h("p", { id: "scan-status", class: "help", role: "status" }, "Starting the camera…");
  body().replaceChildren(
    h("div", { class: "viewfinder" }, video),
    status,
    h("div", { class: "scan-alt" }, button("Paste code", "secondary", showPaste), button("Choose image", "secondary", () => byId("scan-file").click())),
  );
  void runCamera(video, status, gen);
}

async function runCamera(video: HTMLVideoElement, status: HTMLElement, gen: number) {
  if (!navigator.mediaDevices?.getUserMedia) {
    status.textContent = "No camera here. Paste the code or choose a photo of it.";
    return;
  }
  let s: MediaStream;
  try {
    s = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch {
    status.textContent = "The camera is not available. Paste the code or choose a photo of it.";
    return;
  }
  if (gen !== generation) return void s.getTracks().forEach((t) => t.stop());
  stream = s;
  video.srcObject = s;
  video.muted = true;
  await video.play().catch(() => undefined);
  status.textContent = "Point the camera at the merchant's code.";
  const decode = await makeDecoder();
  const tick = async () => {
    if (gen !== generation || !stream) return;
    const text = video.readyState >= 2 ? await decode(video).catch(() => null) : null;
    if (gen !== generation) return;
    if (text) {
      document.body.dataset.scannedWith = "camera";
      stopCamera();
      return void submit(text);
    }
    frameTimer = setTimeout(() => void tick(), 120);
  };
  void tick();
}

function showPaste() {
  stopCamera();
  generation++;
  const area = h("textarea", { id: "scan-paste", rows: "4", autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
  const err = h("p", { class: "error", role: "alert" });
  const use = button("Use this code", "primary wide", () => {
    const text = area.value.trim();
    if (!text) return void (err.textContent = "Paste the code's text first.");
    document.body.dataset.scannedWith = "paste";
    void submit(text);
  });
  body().replaceChildren(h("label", { for: "scan-paste" }, "Code contents"), area, err, use, button("Back to camera", "secondary wide", showCamera));
  area.focus();
}

async function onImage(input: HTMLInputElement) {
  const file = input.files?.[0];
  input.value = "";
  if (!file) return;
  stopCamera();
  generation++;
  showWorking("Reading the image…");
  let text: string | null = null;
  try {
    const bitmap = await createImageBitmap(file);
    text = await (await makeDecoder())(bitmap);
    bitmap.close();
  } catch {
    text = null;
  }
  if (!text) return showError("No payment code found in that image. Try a sharper photo, or paste the code.");
  document.body.dataset.scannedWith = "image";
  await submit(text);
}

// ---------------------------------------------------------------------------------------------------- talking to the API

function showWorking(text = "Checking the code with the merchant…") {
  body().replaceChildren(h("p", { class: "muted", role: "status" }, text));
}

function showError(message: string) {
  body().replaceChildren(
    h("p", { class: "error", role: "alert", id: "scan-error" }, message),
    h("div", { class: "scan-alt" }, button("Scan again", "primary", showCamera), button("Paste code", "secondary", showPaste)),
  );
}

/** Error codes of POST /app/scan, in words that say what to do. The server's message covers the rest. */
function scanErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return deps.errorText(e);
  switch (e.code) {
    case "CODE_NOT_RECOGNIZED":
      return "This is not a payment code this wallet can read.";
    case "CODE_EXPIRED":
    case "ORDER_EXPIRED":
      return "This code has expired. Ask the merchant for a new one.";
    case "ORDER_ALREADY_EXISTS":
      return "This order is already being paid or was paid.";
    case "INSUFFICIENT_FUNDS":
      return "Your balance is too low for this payment.";
    default:
      return e.message;
  }
}

async function submit(qrContent: string, extra: { amount?: string; currency?: string } = {}) {
  const gen = generation;
  showWorking();
  try {
    const r = await deps.api.scan({ qrContent, ...extra });
    if (gen !== generation) return;
    const person: unknown = r;
    if (isTransferPrefill(person)) {
      await closeSheet({ silent: true });
      deps.prefillTransfer?.(person.transfer);
    } else if (r.kind === "inventory") showPicker(r);
    else showOrder(r);
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.code === "AMOUNT_REQUIRED") return showAmount(qrContent, e.details ?? {});
    showError(scanErrorText(e));
  }
}

function merchantBlock(m: ScanMerchant) {
  return h("div", { class: "scan-merchant", id: "scan-merchant" }, h("p", { class: "m-name" }, merchantName(m)), h("p", { class: "m-meta" }, merchantIdentity(m)));
}

function showOrder(r: ScanResult) {
  const sessionId = r.sessionId;
  current = { sessionId, pending: false };
  const card: ScanCard = deps.orderCard({
    sessionId,
    merchant: r.merchant,
    order: r.order!,
    deadline: r.expiresAt,
    status: "awaiting_confirmation",
    onConfirm: () => void deps.answer(card, sessionId, "confirm"),
    onDecline: () => void deps.answer(card, sessionId, "decline"),
  });
  const done = button("Done", "secondary wide done", () => void closeSheet());
  const set = card.setStatus.bind(card);
  card.setStatus = (s) => {
    set(s);
    if (statusText(card.status).final && !done.isConnected) card.footer.append(done);
  };
  current.card = card;
  deps.track(sessionId, card);
  // The card itself names the merchant with its OCID and endpoint host (the directory's, not the code's).
  body().replaceChildren(card.el);
  card.heading.focus();
}

/** Exact decimal arithmetic on the merchant's price strings (display only; the merchant's signed order decides). */
function addPrices(lines: { price: string; qty: number }[], prices: string[]): string {
  const scale = Math.max(0, ...prices.map((p) => (p.split(".")[1] ?? "").length));
  let sum = 0n;
  for (const l of lines) {
    const [i, f = ""] = l.price.split(".");
    sum += BigInt(i + f.padEnd(scale, "0")) * BigInt(l.qty);
  }
  const digits = sum.toString().padStart(scale + 1, "0");
  return scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
}

function showPicker(r: ScanResult) {
  const inv = r.inventory as Inventory;
  const sessionId = r.sessionId;
  current = { sessionId, pending: true };
  const qty = new Map<string, number>();
  const total = h("strong", { class: "amount", id: "pick-total" });
  const err = h("p", { class: "error", role: "alert" });
  const cont = button("Continue", "primary wide", () => void order());
  const refresh = () => {
    const lines = inv.items.filter((i) => (qty.get(i.id) ?? 0) > 0).map((i) => ({ price: i.price, qty: qty.get(i.id)! }));
    total.textContent = money(addPrices(lines, inv.items.map((i) => i.price)), inv.currency);
    cont.disabled = lines.length === 0;
  };
  const rows = inv.items.map((it) => {
    const n = h("output", { class: "n", "aria-label": `${it.name}: quantity` }, "0");
    const minus = h("button", { type: "button", class: "secondary step", "aria-label": `One less ${it.name}` }, "−");
    const plus = h("button", { type: "button", class: "secondary step", "aria-label": `One more ${it.name}` }, "+");
    const set = (q: number) => {
      qty.set(it.id, q);
      n.textContent = String(q);
      minus.disabled = q === 0;
      plus.disabled = !it.available || q >= it.max_qty;
      refresh();
    };
    // From 0 the first tap jumps to the least the merchant sells; below that it goes back to none.
    plus.addEventListener("click", () => set(Math.min(it.max_qty, (qty.get(it.id) ?? 0) === 0 ? it.min_qty : qty.get(it.id)! + 1)));
    minus.addEventListener("click", () => set((qty.get(it.id) ?? 0) <= it.min_qty ? 0 : qty.get(it.id)! - 1));
    set(0);
    const bounds = it.min_qty > 1 ? `${it.min_qty}–${it.max_qty}` : `up to ${it.max_qty}`;
    return h(
      "li",
      { "data-item": it.id, "data-available": String(it.available) },
      h("span", { class: "what" }, h("span", { class: "name" }, it.name), h("span", { class: "meta" }, it.available ? `${money(it.price, it.currency)} · ${bounds}` : "Sold out")),
      h("span", { class: "stepper" }, minus, n, plus),
    );
  });
  async function order() {
    const items = inv.items.filter((i) => (qty.get(i.id) ?? 0) > 0).map((i) => ({ id: i.id, quantity: qty.get(i.id)! }));
    cont.disabled = true;
    err.textContent = "";
    try {
      showOrder(await deps.api.scanOrder(sessionId, items));
    } catch (e) {
      err.textContent = scanErrorText(e);
      cont.disabled = false;
    }
  }
  refresh();
  const heading = h("h3", { id: "pick-title", tabindex: "-1" }, inv.name ? `Choose from ${inv.name}` : "Choose what to buy");
  body().replaceChildren(
    merchantBlock(r.merchant),
    h("section", { class: "card picker-card", "aria-labelledby": "pick-title" }, heading, h("ul", { class: "picker" }, ...rows), h("p", { class: "total" }, h("span", {}, "Total"), total), err, cont),
  );
  heading.focus();
}

function showAmount(qrContent: string, details: Record<string, unknown>) {
  const m = (details.merchant ?? { ocid: 0 }) as ScanMerchant;
  const fixed = typeof details.currency === "string" ? details.currency : undefined;
  const currencies = fixed ? [fixed] : Array.isArray(details.currencies) ? (details.currencies as string[]) : [];
  const amount = h("input", { id: "scan-amount", inputmode: "decimal", autocomplete: "off", placeholder: "0.00" });
  const cur = h("select", { id: "scan-currency" }, ...currencies.map((c) => h("option", { value: c }, c)));
  const err = h("p", { class: "error", role: "alert" });
  const go = button("Continue", "primary wide", () => {
    const a = amount.value.trim();
    if (!/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(a)) return void (err.textContent = "Enter an amount like 12.50.");
    void submit(qrContent, { amount: a, currency: cur.value });
  });
  body().replaceChildren(
    merchantBlock(m),
    h("section", { class: "card", "aria-labelledby": "amount-title" },
      h("h3", { id: "amount-title" }, `How much do you pay ${merchantName(m)}?`),
      h("div", { class: "amount-row" }, h("span", {}, h("label", { for: "scan-amount" }, "Amount"), amount), h("span", {}, h("label", { for: "scan-currency" }, "Currency"), cur)),
      err,
      go,
    ),
  );
  amount.focus();
}

type TransferPrefill = { kind: "ocid_transfer"; transfer: { to: number; gateway: number; name?: string; local: boolean } };
const isTransferPrefill = (r: unknown): r is TransferPrefill => (r as { kind?: unknown })?.kind === "ocid_transfer";
