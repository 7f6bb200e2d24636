-- kraken-audit analyser: incremental analysis state, finding history, alert outbox, and the indexes the rules
-- in sql/rules need to stay proportional to new data (a nightly increment of 1,000 rows on top of 1M).
-- 0002 is reserved for the collector.

-- Severity order as a number, so SQL can compare severities (info < low < medium < high < critical).
CREATE FUNCTION audit.severity_rank(severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2
                         WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END;
COMMENT ON FUNCTION audit.severity_rank(text) IS 'info=0, low=1, medium=2, high=3, critical=4 (NULL for anything else).';

-- When the anomaly happened (the withdrawal time, the last error of a burst, the check time for state rules),
-- as opposed to first_seen/last_seen (when the analyser detected it).
ALTER TABLE audit.findings ADD COLUMN occurred_at timestamptz;
-- How many analysis runs reported the finding (1 on creation).
ALTER TABLE audit.findings ADD COLUMN detections integer NOT NULL DEFAULT 1;
ALTER TABLE audit.findings ADD COLUMN last_run_id bigint REFERENCES audit.collector_runs(id);
CREATE INDEX findings_rule_account ON audit.findings (rule_id, account_id, last_seen DESC);
COMMENT ON COLUMN audit.findings.dedupe_key IS 'Stable identity of the anomaly (rule:account:entity...): re-analysing the same rows updates the finding instead of adding one.';
COMMENT ON COLUMN audit.findings.occurred_at IS 'When the anomaly happened (event time); first_seen/last_seen are detection times.';

-- High-water mark per account and rule: rows changed after analysed_until (minus a small overlap) are analysed
-- by the next run. rule_checksum covers the rule SQL and its parameter values: when either changes, the next
-- run analyses that rule from scratch.
CREATE TABLE audit.analysis_state (
    account_id      integer NOT NULL REFERENCES audit.accounts(id),
    rule_id         text NOT NULL,
    analysed_until  timestamptz NOT NULL,
    rule_checksum   text NOT NULL,
    last_run_id     bigint REFERENCES audit.collector_runs(id),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, rule_id)
);
COMMENT ON TABLE audit.analysis_state IS 'Per account and rule: the point up to which rows were analysed (incremental analysis).';

-- Every status change of a finding: by an analyst (ack/resolve/suppress) or by the analyser (reopen).
CREATE TABLE audit.finding_events (
    id          bigserial PRIMARY KEY,
    finding_id  bigint NOT NULL REFERENCES audit.findings(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    old_status  text,
    new_status  text NOT NULL CHECK (new_status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
    note        text,
    changed_by  text NOT NULL,
    run_id      bigint REFERENCES audit.collector_runs(id)
);
CREATE INDEX finding_events_finding ON audit.finding_events (finding_id, at);
COMMENT ON TABLE audit.finding_events IS 'Status history of findings: who changed what, when, and why (note).';

-- Alerts to deliver, written in the same transaction as the finding they announce (transactional outbox).
-- Delivery (kraken-audit alerts) groups the rows of one run_id into one hook call and sets delivery_id,
-- attempts, next_attempt_at, delivered_at and last_error.
CREATE TABLE audit.alert_outbox (
    id               bigserial PRIMARY KEY,
    finding_id       bigint NOT NULL REFERENCES audit.findings(id) ON DELETE CASCADE,
    event            text NOT NULL CHECK (event IN ('new', 'renotify', 'resolved')),
    run_id           bigint REFERENCES audit.collector_runs(id),
    severity         text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivery_id      text,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_error       text
);
CREATE INDEX alert_outbox_pending ON audit.alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_finding ON audit.alert_outbox (finding_id, created_at DESC);
COMMENT ON TABLE audit.alert_outbox IS 'Alerts waiting for (or done with) delivery through the [alerts] hook; one row per finding event.';

-- Indexes for incremental scopes ("rows changed since the last analysis") and per-account look-backs.
CREATE INDEX ledger_entries_account_updated ON audit.ledger_entries (account_id, updated_at);
CREATE INDEX ledger_entries_withdrawal_asset_time ON audit.ledger_entries (account_id, asset, time) WHERE type = 'withdrawal';
CREATE INDEX trades_account_updated ON audit.trades (account_id, updated_at);
CREATE INDEX trades_pair_time_txid ON audit.trades (account_id, pair, time, txid);
CREATE INDEX orders_account_updated ON audit.orders (account_id, updated_at);
CREATE INDEX withdrawals_account_updated ON audit.withdrawals (account_id, updated_at);
CREATE INDEX api_calls_account_key_started ON audit.api_calls (account_id, key_fingerprint, started_at) WHERE cardinality(errors) > 0;
CREATE INDEX collector_runs_account_finished ON audit.collector_runs (account_id, finished_at);
