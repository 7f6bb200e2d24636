-- Real-time watch (issue 20; ../shared/kraken-websocket.md): ledger entries and trades streamed over Kraken's
-- WebSocket v2 are stored at once, in the same version tables and with the same natural keys as REST rows.
--
-- 1. `source = 'ws'`: a row stored from the stream. The nightly REST collection is the source of truth: when REST
--    returns the same id, its row becomes the next version (source 'api'; the streamed version stays in the
--    history and the hash chain), and every field on which the two disagree is recorded in
--    audit.source_mismatches first (export_id = 'stream', see 2).
ALTER TABLE audit.ledger_entry_versions DROP CONSTRAINT ledger_entries_source_check;
ALTER TABLE audit.ledger_entry_versions ADD CONSTRAINT ledger_entries_source_check CHECK (source IN ('api', 'export', 'ws'));
ALTER TABLE audit.trade_versions DROP CONSTRAINT trades_source_check;
ALTER TABLE audit.trade_versions ADD CONSTRAINT trades_source_check CHECK (source IN ('api', 'export', 'ws'));

-- 2. Stream-vs-REST disagreements reuse the export-vs-REST log (a chained table: a new column would be outside its
--    hash encoding): export_id = 'stream' marks a row whose "export" side is the WebSocket stream (Kraken's export
--    ids are four capitals, so the marker cannot collide). The source_mismatch rule names the source.
COMMENT ON COLUMN audit.source_mismatches.export_value IS 'The other source''s value: the export file''s, or the WebSocket stream''s when export_id = ''stream''.';
COMMENT ON COLUMN audit.source_mismatches.export_id IS 'Kraken''s export report id, or ''stream'' for a row the WebSocket stream delivered.';

-- 3. One row per WebSocket connection of `kraken-audit watch` (owner: the Watch module). Operational, like
--    collector_runs: how long each connection lived, why it ended, what it delivered, and the REST gap fill
--    that followed it.
CREATE TABLE audit.watch_connections (
    id               bigserial PRIMARY KEY,
    account_id       integer NOT NULL REFERENCES audit.accounts (id),
    -- The watch process's session (its advisory-lock holder id, as in collector_runs.stats.holder).
    holder           bigint NOT NULL,
    connected_at     timestamptz NOT NULL DEFAULT now(),
    subscribed_at    timestamptz,
    closed_at        timestamptz,
    -- Why it ended: 'stalled' (no message for 10 s), 'closed by Kraken', 'invalid session', 'stopped', ...
    close_reason     text,
    -- Kraken's system status as last announced on this connection (online, maintenance, cancel_only, post_only).
    system_status    text,
    messages         bigint NOT NULL DEFAULT 0,
    ledger_stored    integer NOT NULL DEFAULT 0,
    trades_stored    integer NOT NULL DEFAULT 0,
    duplicates       integer NOT NULL DEFAULT 0,
    -- The REST gap fill run after this connection's subscriptions (collector_runs, command 'watch').
    gap_fill_run_id  bigint REFERENCES audit.collector_runs (id)
);
CREATE INDEX watch_connections_account ON audit.watch_connections (account_id, connected_at DESC);
COMMENT ON TABLE audit.watch_connections IS 'WebSocket connections of kraken-audit watch (issue 20): lifetime, close reason, messages and rows stored, gap fill run.';

COMMENT ON COLUMN kraken.ledger.source IS 'Where the row came from: api (Ledgers endpoint), export (Kraken''s ledger export) or ws (the WebSocket stream of kraken-audit watch, until REST confirms it).';

-- 4. Analysts: the stream's connections.
CREATE VIEW kraken.watch_connections AS
SELECT w.id AS connection_id, w.account_id, a.name AS account, w.connected_at, w.subscribed_at, w.closed_at,
       w.close_reason, w.system_status, w.messages, w.ledger_stored, w.trades_stored, w.duplicates, w.gap_fill_run_id
  FROM audit.watch_connections w
  JOIN audit.accounts a ON a.id = w.account_id;
COMMENT ON VIEW kraken.watch_connections IS 'kraken-audit watch: one row per WebSocket connection (when, how long, why it ended, rows stored, REST gap fill run).';
COMMENT ON COLUMN kraken.watch_connections.connection_id IS 'Connection id (watch logs name it as "connection").';
COMMENT ON COLUMN kraken.watch_connections.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.watch_connections.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.watch_connections.connected_at IS 'When watch opened the connection (after taking a fresh token from GetWebSocketsToken).';
COMMENT ON COLUMN kraken.watch_connections.subscribed_at IS 'When Kraken acknowledged both subscriptions (balances and executions); NULL if it never did.';
COMMENT ON COLUMN kraken.watch_connections.closed_at IS 'When the connection ended (NULL while open).';
COMMENT ON COLUMN kraken.watch_connections.close_reason IS 'Why it ended: stalled (no message for 10 s), closed by Kraken, ESession:Invalid session (a revoked token), stopped (watch was stopped), process ended (watch was killed), ...';
COMMENT ON COLUMN kraken.watch_connections.system_status IS 'Kraken''s engine state as last announced on the connection: online, maintenance, cancel_only or post_only.';
COMMENT ON COLUMN kraken.watch_connections.messages IS 'Messages received (heartbeats included).';
COMMENT ON COLUMN kraken.watch_connections.ledger_stored IS 'Ledger entries first stored from this connection''s stream (source ws).';
COMMENT ON COLUMN kraken.watch_connections.trades_stored IS 'Trades first stored from this connection''s stream (source ws).';
COMMENT ON COLUMN kraken.watch_connections.duplicates IS 'Streamed entries or messages already stored or already seen (a repeated message, an entry REST brought first).';
COMMENT ON COLUMN kraken.watch_connections.gap_fill_run_id IS 'The collector run (command watch) that filled the gap from REST after this connection subscribed.';
