/** A setting, the data dir or the database cannot be used as configured: one line saying what to do, exit 78. */
export class ConfigError extends Error {}
