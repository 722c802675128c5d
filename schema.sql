-- Opencharge gateway schema. Applied idempotently at every start; `schema_version` records what is applied so
-- later changes can migrate. Amounts are INTEGER minor units; timestamps INTEGER Unix seconds.

CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL);

-- §4.4 replay protection: (sender, nonce) unique for 2 x authWindow + skew (src/store/nonces.ts).
CREATE TABLE IF NOT EXISTS nonces (
  ocid INTEGER NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (ocid, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);

-- §2.2 operator-managed OCID directory: value is a metadata URL (*.json) or an API endpoint.
CREATE TABLE IF NOT EXISTS directory (
  ocid INTEGER PRIMARY KEY, value TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'operator', added_at INTEGER NOT NULL
);

-- §2.4 last good metadata per OCID (survives restarts; the in-memory cache sits in front).
CREATE TABLE IF NOT EXISTS metadata_cache (
  ocid INTEGER PRIMARY KEY, document TEXT NOT NULL, fetched_at INTEGER NOT NULL
);

-- §10.1 wallet users and their bearer tokens (SHA-256 only).
CREATE TABLE IF NOT EXISTS app_users (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS app_tokens (
  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES app_users(id), created_at INTEGER NOT NULL,
  expires_at INTEGER, revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS app_tokens_user ON app_tokens (user_id);

-- §8.1 pay sessions (qr) and hosted-checkout sessions.
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('qr','checkout')), user_id TEXT REFERENCES app_users(id),
  status TEXT NOT NULL CHECK (status IN ('pending','used','cancelled')),
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, status, expires_at);

-- §11.2 orders. `id` is ours; `order_id` is the merchant's.
CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  caller_ocid INTEGER NOT NULL, merchant_ocid INTEGER NOT NULL, order_id TEXT NOT NULL,
  order_json TEXT NOT NULL, signature TEXT NOT NULL, sig_form TEXT NOT NULL CHECK (sig_form IN ('deep','replacer')),
  urls_json TEXT NOT NULL, amount TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL,
  user_id TEXT REFERENCES app_users(id),
  status TEXT NOT NULL CHECK (status IN ('awaiting_confirmation','confirmed','paid','declined','expired','failed','in_review')),
  confirm_deadline INTEGER NOT NULL, candidates_json TEXT NOT NULL,
  settlement_type TEXT, settlement_via INTEGER,
  final_proof_json TEXT, final_signature TEXT, final_txid TEXT,
  received_at INTEGER NOT NULL, confirmed_at INTEGER, updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS orders_active_unique ON orders (merchant_ocid, order_id)
  WHERE status IN ('awaiting_confirmation','confirmed','in_review','paid');
CREATE INDEX IF NOT EXISTS orders_caller ON orders (caller_ocid, order_id, received_at);
CREATE INDEX IF NOT EXISTS orders_session ON orders (session_id);
CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id, id);
CREATE INDEX IF NOT EXISTS orders_awaiting ON orders (status, confirm_deadline);

-- §12.1 double-entry ledger. `accounts` holds balances updated in the same transaction as the entries.
CREATE TABLE IF NOT EXISTS accounts (
  account TEXT NOT NULL, currency TEXT NOT NULL,
  -- an overflowing sum would silently become REAL; the CHECK turns that into a failed transaction instead
  balance INTEGER NOT NULL DEFAULT 0 CHECK (typeof(balance) = 'integer'),
  PRIMARY KEY (account, currency)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, movement_id TEXT NOT NULL, account TEXT NOT NULL, currency TEXT NOT NULL,
  delta INTEGER NOT NULL CHECK (typeof(delta) = 'integer'), reason TEXT NOT NULL, order_id INTEGER, ref TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_movement ON ledger_entries (movement_id);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger_entries (account, currency, id);

-- §12.4 settlement outbox.
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','done','failed','in_review')),
  candidates_json TEXT NOT NULL, path_index INTEGER NOT NULL DEFAULT 0, step TEXT NOT NULL,
  step_data TEXT NOT NULL DEFAULT '{}', pinned INTEGER NOT NULL DEFAULT 0, step_attempts INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
  lease_owner TEXT, lease_until INTEGER, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, next_attempt_at);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_order ON jobs (order_id, kind);

-- §14 webhook deliveries (proof → merchant / MG / transfer recipient).
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY, order_id INTEGER REFERENCES orders(id), target_ocid INTEGER NOT NULL, txid TEXT NOT NULL,
  body TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('pending','delivered','rejected','dead')),
  attempts INTEGER NOT NULL DEFAULT 0, first_attempt_at INTEGER, window_start INTEGER, next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT, lease_until INTEGER, last_http_status INTEGER, last_error TEXT, last_reply TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (order_id);
CREATE TABLE IF NOT EXISTS delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL REFERENCES deliveries(id), at INTEGER NOT NULL,
  http_status INTEGER, latency_ms INTEGER, error TEXT, result TEXT NOT NULL
);

-- §13.2 / §13.3 proofs.
CREATE TABLE IF NOT EXISTS issued_proofs (
  txid TEXT PRIMARY KEY, proof_json TEXT NOT NULL, signature TEXT NOT NULL, canonical TEXT NOT NULL,
  order_id INTEGER, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS received_proofs (
  issuer INTEGER NOT NULL, txid TEXT NOT NULL, proof_json TEXT NOT NULL, signature TEXT NOT NULL,
  sig_form TEXT NOT NULL, outcome TEXT NOT NULL, reply_json TEXT, job_id TEXT, received_at INTEGER NOT NULL,
  PRIMARY KEY (issuer, txid)
);

-- §9.7 inbound idempotency (24 h).
CREATE TABLE IF NOT EXISTS idempotency (
  ocid INTEGER NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, status INTEGER NOT NULL, response TEXT NOT NULL,
  created_at INTEGER NOT NULL, PRIMARY KEY (ocid, key)
) WITHOUT ROWID;

-- Things the operator must look at (unresolved settlements, unknown references, mismatched proofs).
CREATE TABLE IF NOT EXISTS anomalies (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, order_id INTEGER, job_id TEXT, detail TEXT NOT NULL,
  created_at INTEGER NOT NULL, resolved_at INTEGER
);

-- §12.4 one scheduler lease holder per database.
CREATE TABLE IF NOT EXISTS scheduler_lease (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, lease_until INTEGER NOT NULL
);
