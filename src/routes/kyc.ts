// Issue 21: where a KYC provider sends the browser back. Public (a browser navigation carries no token): the
// single-use `state` names the user. A processed callback sends the browser on to the wallet with the outcome;
// a bad `state` or an unusable provider answer is the protocol's error JSON.
import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway";
import { kycCallback } from "../flows/kyc";
import { routeDoc } from "../http/route-docs";

export function kycRoutes(gw: Pick<Gateway, "clock" | "config" | "directory" | "log" | "peers" | "store" | "tiers">) {
  return new Elysia({ name: "oc-kyc" }).get(
    `${gw.config.basePath}/kyc/callback`,
    async ({ query }) => {
      const r = await kycCallback(gw, query);
      const to = `${gw.config.webBaseUrl}/?kyc=${r.outcome}${r.tier ? `&tier=${encodeURIComponent(r.tier)}` : ""}`;
      return new Response(null, { status: 303, headers: { location: to, "cache-control": "no-store" } });
    },
    {
      query: t.Object(
        { state: t.Optional(t.String({ maxLength: 128 })), status: t.Optional(t.String({ maxLength: 32 })) },
        { additionalProperties: true },
      ),
      detail: routeDoc({
        summary: "KYC provider callback (browser redirect): checks state, asks the provider, moves the user's tier",
        description:
          "Calls the provider's signed POST /kyc/validate and, for granted grants, POST /kyc/data; then 303 to the " +
          "wallet " +
          "with ?kyc=granted|partial|denied|unverified|expired. The callback's own `status` is not trusted.",
        errors: ["KYC_STATE_INVALID", "METADATA_UNAVAILABLE"],
      }),
    },
  );
}
