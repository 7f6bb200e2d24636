-- API-key posture on every run (issue 15, part 3; ../shared/kraken-api.md §3.11, §7).
--
-- The collector calls GetApiKeyInfo once per key and run (paced and logged in audit.api_calls like every call)
-- and keeps each answer here: a history of the key's settings as Kraken reports them. The rules key_posture,
-- key_changed and key_used_elsewhere read it. Append-only: the writer role may add snapshots, never rewrite them.
--
-- Nothing secret: GetApiKeyInfo carries no secret. Its `apiKey` (the public key string, sent in the API-Key header)
-- is dropped from raw like everywhere else in kraken-audit (only its fingerprint is stored).

CREATE TABLE audit.api_key_snapshots (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          integer NOT NULL REFERENCES audit.accounts(id),
    key_fingerprint     text NOT NULL CHECK (key_fingerprint ~ '^sha256:[0-9a-f]{16}$'),
    run_id              bigint REFERENCES audit.collector_runs(id),
    -- The GetApiKeyInfo call that produced the answer (audit.api_calls.id) and the nonce it carried.
    api_call_id         bigint,
    request_nonce       numeric(20, 0),
    -- What kraken-audit itself had done with the key just before that call (audit.api_keys.last_nonce and
    -- last_used_at): every nonce any kraken-audit process had taken, and when it last took one.
    audit_nonce_before  numeric(20, 0),
    audit_used_before   timestamptz,
    observed_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_name            text,
    permissions         text[] NOT NULL,
    ip_allowlist        text[] NOT NULL,
    nonce_window        numeric NOT NULL,
    -- Kraken's times; NULL where Kraken says "0" (unset) or null.
    valid_until         timestamptz,
    query_from          timestamptz,
    query_to            timestamptz,
    created_time        timestamptz,
    modified_time       timestamptz,
    last_used           timestamptz,
    -- Kraken's highest nonce for the key (u64, hence numeric).
    nonce               numeric(20, 0),
    raw                 jsonb NOT NULL
);
CREATE INDEX api_key_snapshots_key_observed ON audit.api_key_snapshots (account_id, key_fingerprint, observed_at);
CREATE INDEX api_key_snapshots_observed ON audit.api_key_snapshots (account_id, observed_at);
COMMENT ON TABLE audit.api_key_snapshots IS
    'Internal (may change with any migration). One row per GetApiKeyInfo answer (once per key and collection run), append-only. Analysts: use the view kraken.api_key_snapshots.';

REVOKE UPDATE, DELETE, TRUNCATE ON audit.api_key_snapshots FROM kraken_audit_writer;

CREATE VIEW kraken.api_key_snapshots AS
SELECT s.id AS snapshot_id, s.observed_at, s.account_id, a.name AS account, s.key_fingerprint, k.name AS key_name,
       s.key_name AS kraken_key_name, s.permissions, s.ip_allowlist, s.nonce_window, s.valid_until, s.query_from,
       s.query_to, s.created_time, s.modified_time, s.last_used, s.nonce, s.request_nonce, s.run_id,
       s.api_call_id AS call_id
  FROM audit.api_key_snapshots s
  JOIN audit.accounts a ON a.id = s.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = s.key_fingerprint;
COMMENT ON VIEW kraken.api_key_snapshots IS 'The settings of each API key as Kraken reported them (GetApiKeyInfo), once per key and collection run: permissions, IP allowlist, nonce window, expiry. Read by the rules key_posture, key_changed and key_used_elsewhere.';
COMMENT ON COLUMN kraken.api_key_snapshots.snapshot_id IS 'Snapshot id (findings of the key rules name it in their evidence).';
COMMENT ON COLUMN kraken.api_key_snapshots.observed_at IS 'When kraken-audit received the answer.';
COMMENT ON COLUMN kraken.api_key_snapshots.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.api_key_snapshots.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.api_key_snapshots.key_fingerprint IS 'Fingerprint of the API key (sha256:<16 hex> of the public key; never the key or the secret).';
COMMENT ON COLUMN kraken.api_key_snapshots.key_name IS 'Name kraken-audit gives the key.';
COMMENT ON COLUMN kraken.api_key_snapshots.kraken_key_name IS 'The key''s description on Kraken (apiKeyName).';
COMMENT ON COLUMN kraken.api_key_snapshots.permissions IS 'Kraken permissions of the key (query-funds, query-ledger, withdraw-funds, ...). An audit key needs only query-funds, query-open-trades, query-closed-trades, query-ledger (and export-data).';
COMMENT ON COLUMN kraken.api_key_snapshots.ip_allowlist IS 'IP addresses/CIDR ranges the key is restricted to; empty = usable from anywhere.';
COMMENT ON COLUMN kraken.api_key_snapshots.nonce_window IS 'Nonce window of the key (nonce units below the highest nonce that Kraken still accepts; 0 = none).';
COMMENT ON COLUMN kraken.api_key_snapshots.valid_until IS 'When the key expires (NULL = never).';
COMMENT ON COLUMN kraken.api_key_snapshots.query_from IS 'Start of the history the key may read (NULL = unrestricted).';
COMMENT ON COLUMN kraken.api_key_snapshots.query_to IS 'End of the history the key may read (NULL = unrestricted).';
COMMENT ON COLUMN kraken.api_key_snapshots.created_time IS 'When the key was created on Kraken.';
COMMENT ON COLUMN kraken.api_key_snapshots.modified_time IS 'When the key''s settings were last changed on Kraken.';
COMMENT ON COLUMN kraken.api_key_snapshots.last_used IS 'When Kraken last saw the key used (NULL if never).';
COMMENT ON COLUMN kraken.api_key_snapshots.nonce IS 'Kraken''s highest nonce for the key.';
COMMENT ON COLUMN kraken.api_key_snapshots.request_nonce IS 'The nonce kraken-audit sent with the GetApiKeyInfo call that returned this snapshot.';
COMMENT ON COLUMN kraken.api_key_snapshots.run_id IS 'Collector run that took the snapshot.';
COMMENT ON COLUMN kraken.api_key_snapshots.call_id IS 'The GetApiKeyInfo call in kraken.api_calls.';
