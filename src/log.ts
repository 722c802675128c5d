// One JSON object per line. Secrets never reach here by design; the redaction is a second line of defence.
const SECRET_KEYS = /^(authorization|token|privatekey|private_key|secret|password)$/i;
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
};

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields))
    out[k] = SECRET_KEYS.test(k) ? "[redacted]" : typeof v === "bigint" ? v.toString() : v;
  return out;
}

export function createLogger(
  level: Level = "info",
  sink: (line: string) => void = (l) => process.stdout.write(l + "\n"),
): Logger {
  const min = LEVELS[level] ?? LEVELS.info;
  const emit =
    (lvl: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS[lvl] < min) return;
      sink(JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...redact(fields) }));
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
