/** Integer Unix seconds (§0). Injected everywhere so tests can pin time (e.g. to the vectors' 1706313700). */
export type Clock = () => number;
export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
