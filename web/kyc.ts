// Issue 21: the wallet's verification card — the user's KYC tier, the limits it gives, and Verify, which sends the
// browser to the KYC provider's grant page; the provider sends it back through the gateway to `/?kyc=<outcome>`.
import { ApiError, type Api } from "./api";
import { safeHttpUrl } from "./format";
import { byId, h } from "./dom";

const LIMIT_LABEL: Record<string, string> = { per_payment: "Per payment", per_day: "Per day", max_balance: "Maximum balance" };
const OUTCOME_TEXT: Record<string, string> = {
  granted: "Verification received: your limits are updated.",
  partial: "Part of your verification was shared: your limits are updated where it counts.",
  denied: "The verification was not shared; your limits stay as they are.",
  unverified: "The provider's answer could not be verified; your limits stay as they are. Try again later.",
  expired: "That verification has expired; renew it with the provider and try again.",
};

export async function renderKyc(api: Api, hasOcid: boolean): Promise<void> {
  const card = byId("kyc-card");
  let v;
  try {
    v = await api.kyc();
  } catch {
    card.hidden = true;
    return;
  }
  if (v.tier === null) return void (card.hidden = true);
  card.hidden = false;
  byId("kyc-tier").textContent = v.tier;
  const rows = Object.entries(v.limits).flatMap(([cur, set]) =>
    Object.entries(set).map(([name, max]) => h("li", {}, h("span", {}, `${LIMIT_LABEL[name] ?? name} (${cur})`), h("span", { class: "amount" }, max))),
  );
  byId("kyc-limits").replaceChildren(...(rows.length ? rows : [h("li", {}, "No limits")]));
  byId("kyc-form").hidden = !v.canVerify || v.next === null;
  byId("kyc-ocid-row").hidden = hasOcid;
  const outcome = new URLSearchParams(location.search).get("kyc");
  if (outcome && OUTCOME_TEXT[outcome]) byId("kyc-status").textContent = OUTCOME_TEXT[outcome]!;
}

export function initKyc(api: Api, hasOcid: () => boolean): void {
  byId("kyc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    void (async () => {
      const err = byId("kyc-error");
      err.textContent = "";
      const ocidText = byId<HTMLInputElement>("kyc-ocid").value.trim();
      if (!hasOcid() && !/^[1-9][0-9]{0,15}$/.test(ocidText)) {
        err.textContent = "Enter the OCID you hold at the verification provider (a number).";
        return byId("kyc-ocid").focus();
      }
      try {
        const r = await api.kycStart(hasOcid() ? {} : { userOcid: Number(ocidText) });
        const url = safeHttpUrl(r.url);
        if (!url) throw new ApiError(0, "BAD_URL", "The provider gave no usable page.");
        byId("kyc-status").textContent = "Taking you to the verification provider…";
        location.assign(url);
      } catch (e) {
        err.textContent = e instanceof ApiError ? e.message : "Something went wrong. Please try again.";
      }
    })();
  });
}
