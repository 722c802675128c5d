// Schema changes after the base schema (schema.sql, version 1). Each migration has a stable id and runs once per
// database, in list order, inside the start-up transaction; `schema_migrations` records which ran. Work that goes
// on in parallel appends its own entry (ids are names, not numbers, so two branches never claim the same one).
// Rules: never edit a CREATE TABLE in schema.sql (an existing database would not get the change); add columns
// with ALTER TABLE here; a changed CHECK needs a table rebuild here, tested on a database made by the old schema.
export type Migration = { id: string; sql: string };

export const MIGRATIONS: readonly Migration[] = [
  {
    // Issue 16: operator API keys (SHA-256 only), the append-only audit log, admin idempotency, frozen users.
    id: "16-admin-keys-audit",
    sql: `
      CREATE TABLE api_keys (
        name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT NOT NULL, action TEXT NOT NULL, args TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TABLE admin_idempotency (
        actor TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('in_flight','done')), status INTEGER, response TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (actor, key)
      ) WITHOUT ROWID;
      ALTER TABLE app_users ADD COLUMN frozen_at INTEGER;
    `,
  },
  {
    // Issue 16: per-user limits, one row per limit (names validated in code, so KYC tiers can add rows, not columns).
    id: "16-user-limits",
    sql: `
      CREATE TABLE user_limits (
        user_id TEXT NOT NULL REFERENCES app_users(id), currency TEXT NOT NULL, limit_name TEXT NOT NULL,
        max INTEGER NOT NULL CHECK (typeof(max) = 'integer' AND max >= 0), updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, currency, limit_name)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Issue 13, pay by scanning: a third session kind ('scan': a merchant code the user scanned) and the record of
    // what was scanned. The CHECK on sessions.kind changes, so the table is rebuilt; orders reference sessions, so
    // the copy goes out and back in under deferred foreign keys (re-inserting each parent row settles its orders).
    id: "13-scan-sessions",
    sql: `
      PRAGMA defer_foreign_keys = ON;
      CREATE TEMP TABLE sessions_copy AS
        SELECT id, kind, user_id, status, created_at, expires_at, used_at FROM sessions;
      DROP TABLE sessions;
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('qr','checkout','scan')),
        user_id TEXT REFERENCES app_users(id),
        status TEXT NOT NULL CHECK (status IN ('pending','used','cancelled')),
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER
      );
      INSERT INTO sessions (id, kind, user_id, status, created_at, expires_at, used_at)
        SELECT id, kind, user_id, status, created_at, expires_at, used_at FROM sessions_copy;
      DROP TABLE sessions_copy;
      CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, status, expires_at);
      -- kind: what the code turned out to be ('order', 'inventory', 'payment'; more kinds may follow, hence no
      -- CHECK); an inventory session becomes 'order' once the merchant signed the picked items. 'payment' orders
      -- (opencharge: stickers) carry no merchant signature.
      CREATE TABLE scans (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id), kind TEXT NOT NULL, merchant_ocid INTEGER NOT NULL,
        code TEXT NOT NULL, source_url TEXT, inventory_json TEXT, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  // Readiness and start-up prove the database takes writes by updating this one row (issue 15).
  {
    id: "15-health-probe",
    sql: "CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)",
  },
  {
    // Issue 19: the merchant as the prompt showed it (name, host of its registered endpoint), so history after a
    // restart names it the same way instead of whatever the directory says (or nothing) later.
    id: "19-order-merchant",
    sql: `CREATE TABLE order_merchant (
      order_row INTEGER PRIMARY KEY REFERENCES orders(id),
      name TEXT,
      host TEXT
    )`,
  },
  {
    // Issue 16: refunds as their own records, several per order; committed = pending + succeeded, never above paid.
    id: "16-refunds",
    sql: `
      CREATE TABLE refunds (
        id TEXT PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
        amount TEXT NOT NULL, amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND
        amount_minor > 0),
        currency TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending','succeeded','failed')),
        method TEXT NOT NULL CHECK (method IN ('direct','partner','merchant_transfer')),
        issuer INTEGER, txid TEXT, proof_json TEXT, signature TEXT, created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL, completed_at INTEGER
      );
      CREATE INDEX refunds_order ON refunds (order_id);
      CREATE INDEX refunds_pending ON refunds (currency, amount_minor) WHERE status = 'pending';
    `,
  },
  {
    // Issue 12: the signature dialect each peer was last seen speaking, what its webhook answers taught us, and the
    // operator's override; the merchant's own error code on webhook answers, and the one dialect re-delivery.
    id: "12-peer-dialects",
    sql: `CREATE TABLE peer_dialects (
        ocid INTEGER PRIMARY KEY,
        form TEXT CHECK (form IN ('deep','replacer')),
        encoding TEXT CHECK (encoding IN ('rsv130','compact128','der')),
        hash TEXT CHECK (hash IN ('sha256','double-sha256')),
        observed_in TEXT, observed_at INTEGER,
        learned_encoding TEXT CHECK (learned_encoding IN ('rsv130','compact128','der')),
        learned_hash TEXT CHECK (learned_hash IN ('sha256','double-sha256')),
        learned_at INTEGER,
        override_encoding TEXT CHECK (override_encoding IN ('rsv130','compact128','der')),
        override_hash TEXT CHECK (override_hash IN ('sha256','double-sha256'))
      );
      ALTER TABLE deliveries ADD COLUMN last_peer_code TEXT;
      ALTER TABLE deliveries ADD COLUMN last_peer_message TEXT;
      ALTER TABLE deliveries ADD COLUMN dialect_retried INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE delivery_attempts ADD COLUMN peer_code TEXT;
      ALTER TABLE delivery_attempts ADD COLUMN dialect TEXT;`,
  },
  // Issue 15: the event log. Triggers write one row per committed business event (a rolled-back transaction
  // takes its rows with it; changes made by the CLI are caught too); the serving process drains the table into
  // JSON log lines (src/event-log.ts). Columns are chosen so no token, key or signature ever enters a row.
  {
    id: "15-event-outbox",
    sql: `
      CREATE TABLE event_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL
      );
      CREATE TRIGGER ev_order_created AFTER INSERT ON orders BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.updated_at, 'order', json_object(
          'order', NEW.id, 'orderId', NEW.order_id, 'merchant', NEW.merchant_ocid, 'caller', NEW.caller_ocid,
          'from', NULL, 'to', NEW.status, 'amount', NEW.amount, 'currency', NEW.currency, 'user', NEW.user_id,
          'session', NEW.session_id));
      END;
      CREATE TRIGGER ev_order_status AFTER UPDATE OF status ON orders WHEN OLD.status IS NOT NEW.status BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.updated_at, 'order', json_object(
          'order', NEW.id, 'orderId', NEW.order_id, 'merchant', NEW.merchant_ocid, 'from', OLD.status, 'to', NEW.status,
          'amount', NEW.amount, 'currency', NEW.currency, 'user', NEW.user_id, 'settlement', NEW.settlement_type,
          'via', NEW.settlement_via, 'txid', NEW.final_txid));
      END;
      CREATE TRIGGER ev_settlement_step AFTER UPDATE ON jobs WHEN OLD.attempts IS NOT NEW.attempts
        OR OLD.step IS NOT NEW.step OR OLD.state IS NOT NEW.state OR OLD.path_index IS NOT NEW.path_index BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.updated_at, 'settlement', json_object(
          'job', NEW.id, 'order', NEW.order_id,
          'strategy', json_extract(OLD.candidates_json, '$[' || OLD.path_index || '].type'),
          'via', json_extract(OLD.candidates_json, '$[' || OLD.path_index || '].via'),
          'step', OLD.step, 'nextStep', NEW.step, 'state', NEW.state,
          'pathFrom', OLD.path_index, 'pathTo', NEW.path_index,
          'pinned', NEW.pinned, 'attempts', NEW.attempts, 'error', NEW.last_error));
      END;
      CREATE TRIGGER ev_delivery_attempt AFTER UPDATE ON deliveries WHEN OLD.attempts IS NOT NEW.attempts
        OR OLD.state IS NOT NEW.state BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.updated_at, 'delivery', json_object(
          'delivery', NEW.id, 'order', NEW.order_id, 'target', NEW.target_ocid, 'txid', NEW.txid, 'state', NEW.state,
          'previousState', OLD.state, 'attempts', NEW.attempts, 'httpStatus', NEW.last_http_status,
          'error', NEW.last_error, 'answer', NEW.last_reply));
      END;
      CREATE TRIGGER ev_credit AFTER INSERT ON ledger_entries
        WHEN NEW.delta > 0 AND NEW.reason IN ('funding', 'webhook_credit', 'transfer_in', 'transfer') BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.created_at, 'credit', json_object(
          'account', NEW.account, 'currency', NEW.currency, 'minor', NEW.delta, 'reason', NEW.reason,
          'movement', NEW.movement_id, 'ref', NEW.ref));
      END;
    `,
  },
  {
    // Issue 15's event log for operator actions, fed by issue 16's audit log (so it runs after 16-admin-keys-audit).
    id: "16-audit-event-log",
    sql: `
      CREATE TRIGGER ev_operator AFTER INSERT ON audit_log BEGIN
        INSERT INTO event_outbox (at, event, data) VALUES (NEW.at, 'operator', json_object(
          'actor', NEW.actor, 'action', NEW.action, 'args', json(NEW.args)));
      END;
    `,
  },
  {
    // Issue 17: end-user OCIDs, person-to-person transfers (their own outbox rows) and top-ups through a peer.
    id: "17-p2p-transfers",
    sql: `
ALTER TABLE app_users ADD COLUMN ocid INTEGER;
CREATE UNIQUE INDEX IF NOT EXISTS app_users_ocid ON app_users (ocid) WHERE ocid IS NOT NULL;
CREATE TABLE IF NOT EXISTS p2p_transfers (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id), idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('internal','outbound')),
  to_user_id TEXT REFERENCES app_users(id), to_ocid INTEGER, to_label TEXT NOT NULL, via INTEGER,
  amount TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, memo TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending','paid','refunded')),
  state TEXT NOT NULL CHECK (state IN ('pending','done','failed','in_review')),
  request_body TEXT, txid TEXT, proof_json TEXT, signature TEXT,
  pinned INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  deadline INTEGER NOT NULL, review_noted INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT, lease_until INTEGER, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  UNIQUE (user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS p2p_transfers_due ON p2p_transfers (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS p2p_transfers_to ON p2p_transfers (to_user_id, created_at);
CREATE TABLE IF NOT EXISTS topups (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id), via INTEGER NOT NULL,
  order_json TEXT NOT NULL, amount TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','credited')),
  checkout_url TEXT, txid TEXT, created_at INTEGER NOT NULL, credited_at INTEGER
);
CREATE INDEX IF NOT EXISTS topups_user ON topups (user_id, created_at);
`,
  },
  {
    // Issue 16: event webhooks to the operator's systems. Events are recorded once; each subscribed endpoint gets a
    // row in the same durable outbox as proofs (deliveries, kind 'event', txid = the event id).
    id: "16-event-webhooks",
    sql: `
      CREATE TABLE event_endpoints (
        id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, event_types TEXT NOT NULL,
        created_at INTEGER NOT NULL, disabled_at INTEGER
      );
      CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX events_type ON events (type, created_at);
      ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'proof';
      ALTER TABLE deliveries ADD COLUMN endpoint_id TEXT REFERENCES event_endpoints(id);
    `,
  },
  {
    // Issue 22: sign-in sessions (short-lived, idle timeout, bound to the web origin) and one-time enrolment links
    // live beside the operator's long-lived tokens; existing rows are operator tokens.
    id: "22-session-tokens",
    sql: `
      ALTER TABLE app_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'operator'
        CHECK (kind IN ('operator','session','enrol'));
      ALTER TABLE app_tokens ADD COLUMN idle_timeout INTEGER;
      ALTER TABLE app_tokens ADD COLUMN last_used_at INTEGER;
      ALTER TABLE app_tokens ADD COLUMN origin TEXT;
      ALTER TABLE app_tokens ADD COLUMN passkey_id TEXT;
      CREATE INDEX IF NOT EXISTS app_tokens_passkey ON app_tokens (passkey_id) WHERE passkey_id IS NOT NULL;`,
  },
  {
    // Issue 22: WebAuthn credentials (id = credential id, base64url) and single-use challenges kept server-side.
    id: "22-passkeys",
    sql: `
      CREATE TABLE IF NOT EXISTS passkeys (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id), name TEXT NOT NULL,
        public_key BLOB NOT NULL, counter INTEGER NOT NULL, transports TEXT NOT NULL, device_type TEXT NOT NULL,
        backed_up INTEGER NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS passkeys_user ON passkeys (user_id);
      CREATE TABLE IF NOT EXISTS webauthn_challenges (
        challenge TEXT PRIMARY KEY, purpose TEXT NOT NULL CHECK (purpose IN ('register','signin')),
        user_id TEXT REFERENCES app_users(id), token_hash TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS webauthn_challenges_expiry ON webauthn_challenges (expires_at);`,
  },
  {
    // Issue 21: KYC. A start's single-use state (only its SHA-256 is kept), each grant's status per user and
    // provider (no personal data: which grants the provider's signature covered, the expiry, a hash of the signed
    // bytes as evidence), and the tier an operator pinned.
    id: "21-kyc",
    sql: `
CREATE TABLE IF NOT EXISTS kyc_states (
  state_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id), provider INTEGER NOT NULL,
  user_ocid INTEGER NOT NULL, grants TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  used_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kyc_grants (
  user_id TEXT NOT NULL REFERENCES app_users(id), provider INTEGER NOT NULL, grant_name TEXT NOT NULL,
  status TEXT NOT NULL, verified INTEGER NOT NULL CHECK (verified IN (0, 1)), expires_at INTEGER,
  data_hash TEXT, signed_form TEXT, checked_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, provider, grant_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_tiers (
  user_id TEXT PRIMARY KEY REFERENCES app_users(id), tier TEXT NOT NULL, set_by TEXT NOT NULL, set_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    // Issue 18: no global scheduler lease; every node claims rows with their own leases (src/store/leases.ts).
    // IF EXISTS: safe on any database this build accepts, and the Postgres translation is the same statement.
    id: "18-no-scheduler-lease",
    sql: "DROP TABLE IF EXISTS scheduler_lease;",
  },
];
