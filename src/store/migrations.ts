// Schema changes after the base schema (schema.sql, version 1). Each migration has a stable id and runs once per
// database, in list order, inside the start-up transaction; `schema_migrations` records which ran. Work that goes
// on in parallel appends its own entry (ids are names, not numbers, so two branches never claim the same one).
// Rules: never edit a CREATE TABLE in schema.sql (an existing database would not get the change); add columns
// with ALTER TABLE here; a changed CHECK needs a table rebuild here, tested on a database made by the old schema.
export type Migration = { id: string; sql: string };

export const MIGRATIONS: readonly Migration[] = [];
