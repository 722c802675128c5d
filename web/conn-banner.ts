// The offline banner (issue 19): while the wallet cannot reach its server, say so at the top of the page, disable
// every button that needs the server (Pay, Confirm…: marked data-needs-server) and, once back, clear the errors
// the outage left behind. Nothing of this shows on the sign-in page, where nothing is connected.
import type { ConnState } from "./socket";

let reachable = true;
let signedIn = false;

export const serverReachable = () => reachable || !signedIn;

function apply() {
  const down = signedIn && !reachable;
  const banner = document.getElementById("offline-banner")!;
  banner.hidden = !down;
  document.body.dataset.offline = String(down);
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>("[data-needs-server]"))) {
    if (down) {
      b.disabled = true;
      b.dataset.offlineDisabled = "1";
    } else if (b.dataset.offlineDisabled) {
      b.disabled = false;
      delete b.dataset.offlineDisabled;
    }
  }
  const foot = document.getElementById("conn")!;
  foot.hidden = !signedIn;
}

/** Socket state → banner. "connecting" keeps whatever we knew: a retry is not yet news either way. */
export function noteConn(s: ConnState) {
  if (s === "connecting") return;
  const was = reachable;
  reachable = s === "online";
  apply();
  if (!was && reachable) clearStaleErrors();
}

/** A request that could not reach the server is as good a signal as the socket's. */
export function noteNetworkFailure() {
  reachable = false;
  apply();
}

export function setSignedIn(v: boolean) {
  signedIn = v;
  if (!v) reachable = true;
  apply();
}

/** Call after adding buttons that need the server, so they start disabled while offline. */
export const refreshConnControls = apply;

function clearStaleErrors() {
  for (const el of Array.from(document.querySelectorAll<HTMLElement>("[data-network-error]"))) {
    el.textContent = "";
    delete el.dataset.networkError;
  }
}
