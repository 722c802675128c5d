// "Open pay codes" (issue 19): the QR sessions a merchant could still charge, read back from the server (so they
// survive a reload), each with its time left and a Cancel button. Kept apart from app.ts: one job, one module.
import type { Api, OpenCodes } from "./api";
import { refreshConnControls } from "./conn-banner";
import { countdown } from "./format";
import { serverNow } from "./api";

let api: Api | null = null;
let onCancelled: (sessionId: string) => void = () => {};
let ticker: ReturnType<typeof setInterval> | undefined;

export function startCodes(a: Api, cancelled: (sessionId: string) => void) {
  api = a;
  onCancelled = cancelled;
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
  void renderCodes();
}

function tick() {
  const now = serverNow() / 1000;
  for (const li of Array.from(document.querySelectorAll<HTMLElement>("#codes li[data-expires]"))) {
    const left = Number(li.dataset.expires) - now;
    if (left <= 0) li.remove();
    else li.querySelector(".left")!.textContent = `expires in ${countdown(left)}`;
  }
  const list = document.getElementById("codes");
  if (list && list.childElementCount === 0) document.getElementById("codes-card")!.hidden = true;
}

function row(code: OpenCodes["codes"][number]): HTMLLIElement {
  const li = document.createElement("li");
  li.dataset.session = code.sessionId;
  li.dataset.expires = String(code.expiresAt);
  const label = document.createElement("span");
  const id = document.createElement("span");
  id.className = "code-id";
  id.textContent = `Code …${code.sessionId.slice(-6)}`;
  const left = document.createElement("span");
  left.className = "left muted";
  label.append(id, " ", left);
  const btn = document.createElement("button");
  btn.type = "button";
  btn.className = "secondary cancel-code";
  btn.textContent = "Cancel";
  btn.setAttribute("aria-label", `Cancel code ending ${code.sessionId.slice(-6)}`);
  btn.dataset.needsServer = "";
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      await api!.decline(code.sessionId);
      li.remove();
      onCancelled(code.sessionId);
      tick();
    } catch {
      btn.disabled = false;
    }
  });
  li.append(label, btn);
  return li;
}

export async function renderCodes() {
  if (!api) return;
  let codes: OpenCodes["codes"];
  try {
    codes = (await api.codes()).codes;
  } catch {
    return; // keep what we show; the offline banner says why
  }
  const list = document.getElementById("codes")!;
  list.replaceChildren(...codes.map(row));
  document.getElementById("codes-card")!.hidden = codes.length === 0;
  tick();
  refreshConnControls();
}

export function stopCodes() {
  clearInterval(ticker);
  api = null;
}
