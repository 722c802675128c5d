// A platform authenticator for a Chromium page through the DevTools protocol's WebAuthn domain (what a phone's
// fingerprint/face/PIN unlock is to the page): resident keys, user verification always granted, presence simulated.
import type { BrowserContext, CDPSession, Page } from "playwright-core";

export type VirtualAuthenticator = {
  cdp: CDPSession;
  authenticatorId: string;
  credentials(): Promise<{ credentialId: string; rpId: string; signCount: number }[]>;
};

export async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<VirtualAuthenticator> {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials as never;
  return { cdp, authenticatorId, credentials };
}

/** WebAuthn needs a domain as relying party (not an IP): tests serve the gateway as http://localhost:<free port>. */
export function freeLoopbackPort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = probe.port!;
  probe.stop(true);
  return port;
}
