import { CapabilitiesResponse } from "../protocol/response-schemas";
import { Elysia } from "elysia";
import type { Gateway } from "../gateway";
import { protocolOptions, protocolRoute } from "./protocol-route";
import { formatMinor } from "../protocol/money";
import { peerAccount } from "../store/ledger";

/** What the capabilities route uses of the gateway (a signed protocol route: auth, limits, signer). */
type CapabilitiesDeps = Pick<
  Gateway,
  "auth" | "clock" | "config" | "currencies" | "limiter" | "log" | "metadata" | "signer" | "store" | "trustedProxies"
>;

/** §9.3: any resolvable caller; `partner` shows only what concerns that caller. */
export function capabilitiesRoute(gw: CapabilitiesDeps) {
  return new Elysia({ name: "oc-capabilities" }).get(
    `${gw.config.basePath}/capabilities`,
    protocolRoute(gw, null, async ({ caller }) => {
      const { config, metadata } = gw;
      const body: Record<string, unknown> = {
        ocid: config.ocid,
        name: config.name,
        capabilities: metadata.config.capabilities,
        settlement: metadata.config.settlement,
      };
      const reserveCurrencies = config.partners.find((p) => p.ocid === caller.ocid)?.reserveCurrencies ?? [];
      const accounts = (await gw.store.read((tx) => tx.ledger.balances(peerAccount(caller.ocid))))
        .filter((r) => gw.currencies.has(r.currency))
        .map((r) => ({ currency: r.currency, amount: formatMinor(r.balance, r.currency, gw.currencies) }));
      if (reserveCurrencies.length || accounts.length) body.partner = { reserveCurrencies, accounts };
      return { body };
    }),
    protocolOptions(null, "What this gateway does, and what concerns the caller (SPEC §9.3)", {
      description:
        "Any caller whose metadata resolves. `partner` appears for configured partners and peers holding an " +
        "account here.",
      response: CapabilitiesResponse,
    }),
  );
}
