// Awaiting a promise's outcome without bun:test's `.resolves` / `.rejects` matchers. Those wait for the promise with
// a nested turn of the event loop, and Bun 1.4.5's nested turn cannot run the setImmediate callbacks queued in the
// same batch as the one the test is running in (oven-sh/bun#39103). The gateway under test runs in the test's
// process and its SQLite store starts every transaction on a setImmediate, so a matcher called from such a batch
// stalled the server until the matcher's promise timed out: measured as an 8,007 ms immediate in the hosted
// checkout test, the flake behind "the unknown-checkout alert not shown within 8 s". A plain `await` yields to the
// real event loop instead: `expect(await p).toBe(x)`, `expect(await thrown(p)).toThrow(X)`,
// `expect(await rejectionOf(p)).toBeInstanceOf(X)`.

/** What `p` rejected with; a resolved `p` gives `{ resolved: value }`, which no error matcher accepts. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    return { resolved: await p };
  } catch (e) {
    return e;
  }
}

/** A function that throws what `p` rejected with (for `toThrow`), or returns if `p` resolved. */
export async function thrown(p: Promise<unknown>): Promise<() => void> {
  try {
    await p;
    return () => {};
  } catch (e) {
    return () => {
      throw e;
    };
  }
}
