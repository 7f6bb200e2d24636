-- Data for the upgrade test (InstallTests.upgradeFromAnEarlierTreeKeepsEveryRow), written against the schema of
-- commit ef61ca3 (migrations 0001-0007): every table of that schema gets rows, so a later migration that drops,
-- rewrites or loses any of them fails the test. Deterministic (no random(), fixed times).
INSERT INTO audit.accounts (id, name, created_at) VALUES
  (1, 'acct1', '2026-09-01 00:00+00'), (2, 'second', '2026-09-01 00:00+00');
SELECT setval('audit.accounts_id_seq', 2);

INSERT INTO audit.api_keys (account_id, name, key_fingerprint, last_nonce, counter_value, counter_updated_at, key_created,
                            first_seen_at, last_used_at, learned_max, learned_decay, learned_label, learned_at, learned_reason,
                            learned_config_max, learned_config_decay, learned_config_label) VALUES
  (1, 'acct1', 'sha256:00112233445566aa', 1793491200000001, 3.5, '2026-11-01 03:00+00', '2026-06-01',
   '2026-09-01 00:00+00', '2026-11-01 03:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (2, 'second', 'sha256:00112233445566bb', 1793491200000002, 0, '2026-11-01 03:00+00', NULL,
   '2026-09-01 00:00+00', '2026-11-01 03:00+00', 15, 0.33, 'tier starter', '2026-10-30 03:00+00',
   'EAPI:Rate limit exceeded on Ledgers', 20, 0.5, 'intermediate');

INSERT INTO audit.collector_runs (id, command, account_id, started_at, finished_at, status, error, stats, pid, hostname, version)
SELECT g, CASE WHEN g % 3 = 0 THEN 'run' ELSE 'collect' END, 1 + g % 2,
       '2026-10-01 03:00+00'::timestamptz + g * interval '1 day', '2026-10-01 03:05+00'::timestamptz + g * interval '1 day',
       CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'success' END,
       CASE WHEN g % 7 = 0 THEN 'Kraken Ledgers returned HTTP 520 (temporary; retry later)' END,
       jsonb_build_object('Ledgers', jsonb_build_object('calls', g, 'inserted', g * 10, 'updated', 0)), 1000 + g, 'audit-host', '0.1.0'
  FROM generate_series(1, 30) g;
SELECT setval('audit.collector_runs_id_seq', 30);

INSERT INTO audit.api_calls (run_id, account_id, key_fingerprint, endpoint, nonce, params, started_at, duration_ms, http_status,
                             errors, error_kind, retry, bytes, counter_after)
SELECT 1 + g % 30, 1 + g % 2, CASE WHEN g % 2 = 0 THEN 'sha256:00112233445566bb' ELSE 'sha256:00112233445566aa' END,
       (ARRAY['Ledgers', 'TradesHistory', 'ClosedOrders', 'WithdrawStatus', 'Balance'])[1 + g % 5], 1793400000000000 + g,
       jsonb_build_object('ofs', g % 50), '2026-10-01 03:00+00'::timestamptz + g * interval '37 seconds', 100 + g % 90,
       CASE WHEN g % 97 = 0 THEN 520 ELSE 200 END,
       CASE WHEN g % 97 = 0 THEN ARRAY['HTTP 520'] WHEN g % 89 = 0 THEN ARRAY['EAPI:Invalid nonce'] ELSE '{}' END,
       CASE WHEN g % 97 = 0 THEN 'http' WHEN g % 89 = 0 THEN 'nonce' END, g % 3, 512 + g, (g % 20)::double precision / 2
  FROM generate_series(1, 2000) g;

INSERT INTO audit.collect_cursors (account_id, endpoint, state, updated_at) VALUES
  (1, 'Ledgers', '{"end": 1793491200, "ofs": 1000}', '2026-11-01 03:00+00'),
  (1, 'TradesHistory', '{"end": 1793491200, "ofs": 300}', '2026-11-01 03:00+00'),
  (2, 'Ledgers', '{"end": 1793491200, "ofs": 0}', '2026-11-01 03:00+00');

INSERT INTO audit.ledger_entries (account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw, source,
                                  export_id, first_seen_at, updated_at)
SELECT 1 + g % 2, 'L' || lpad(g::text, 5, '0') || '-AAAAA-AAAAAA', 'R' || lpad((g / 2)::text, 6, '0'),
       '2026-09-01 00:00+00'::timestamptz + g * interval '61 minutes',
       (ARRAY['trade', 'deposit', 'withdrawal', 'trade'])[1 + g % 4], '', 'currency', (ARRAY['XXBT', 'ZUSD', 'XETH'])[1 + g % 3],
       -- 30 significant digits round-trip exactly (NUMERIC).
       (g * 0.0001234567890123456789012345678)::numeric, (g % 5) * 0.0001, 1000 + g * 0.5,
       jsonb_build_object('refid', 'R' || g, 'amount', (g * 0.0001)::text), CASE WHEN g % 10 = 0 THEN 'export' ELSE 'api' END,
       CASE WHEN g % 10 = 0 THEN 'ABCD' END, '2026-11-01 03:00+00', '2026-11-01 03:00+00'
  FROM generate_series(1, 1000) g;

INSERT INTO audit.trades (account_id, txid, ordertxid, postxid, pair, time, type, ordertype, price, cost, fee, vol, margin, leverage,
                          misc, trade_id, maker, ledgers, posstatus, raw, source, export_id, first_seen_at, updated_at)
SELECT 1 + g % 2, 'T' || lpad(g::text, 5, '0') || '-BBBBB-BBBBBB', 'O' || lpad(g::text, 5, '0') || '-CCCCC-CCCCCC', 'TKH2SE-M7IF5-CFI7LT',
       (ARRAY['XXBTZUSD', 'XETHZUSD'])[1 + g % 2], '2026-09-01 00:00+00'::timestamptz + g * interval '3 hours',
       CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, 'limit', 30000 + g, (30000 + g) * 0.01, 0.26, 0.01, NULL, NULL, '',
       g, g % 2 = 0, ARRAY['L' || lpad(g::text, 5, '0') || '-AAAAA-AAAAAA'], NULL, jsonb_build_object('txid', 'T' || g),
       'api', NULL, '2026-11-01 03:00+00', '2026-11-01 03:00+00'
  FROM generate_series(1, 300) g;

INSERT INTO audit.orders (account_id, txid, refid, userref, status, opentm, closetm, descr_pair, descr_type, descr_ordertype, descr_price,
                          vol, vol_exec, cost, fee, price, oflags, trades, raw, first_seen_at, updated_at)
SELECT 1 + g % 2, 'O' || lpad(g::text, 5, '0') || '-CCCCC-CCCCCC', NULL, g, CASE WHEN g % 9 = 0 THEN 'canceled' ELSE 'closed' END,
       '2026-09-01 00:00+00'::timestamptz + g * interval '3 hours', '2026-09-01 00:10+00'::timestamptz + g * interval '3 hours',
       'XBTUSD', 'buy', 'limit', 30000 + g, 0.01, 0.01, (30000 + g) * 0.01, 0.26, 30000 + g, 'fciq',
       ARRAY['T' || lpad(g::text, 5, '0') || '-BBBBB-BBBBBB'], jsonb_build_object('status', 'closed'), '2026-11-01 03:00+00',
       '2026-11-01 03:00+00'
  FROM generate_series(1, 300) g;

INSERT INTO audit.withdrawals (account_id, refid, method, network, aclass, asset, txid, info, amount, fee, time, status, status_prop, key,
                               raw, first_seen_at, updated_at)
SELECT 1 + g % 2, 'FTW' || lpad(g::text, 4, '0'), 'Bitcoin', 'Bitcoin', 'currency', 'XXBT', 'tx' || g, 'bc1qaddress' || g,
       0.1 * g, 0.0002, '2026-09-02 00:00+00'::timestamptz + g * interval '2 days', 'Success', NULL, 'wallet-' || g,
       jsonb_build_object('refid', 'FTW' || g), '2026-11-01 03:00+00', '2026-11-01 03:00+00'
  FROM generate_series(1, 20) g;

INSERT INTO audit.deposits (account_id, refid, method, network, aclass, asset, txid, info, amount, fee, time, status, status_prop,
                            originators, raw, first_seen_at, updated_at)
SELECT 1 + g % 2, 'FTD' || lpad(g::text, 4, '0'), 'Ether', 'Ethereum', 'currency', 'XETH', 'dtx' || g, '0xabc' || g, 1.5 * g, 0,
       '2026-09-03 00:00+00'::timestamptz + g * interval '2 days', 'Success', NULL, '["0xfrom"]', jsonb_build_object('refid', 'FTD' || g),
       '2026-11-01 03:00+00', '2026-11-01 03:00+00'
  FROM generate_series(1, 20) g;

INSERT INTO audit.status_history (account_id, entity, entity_id, status, status_prop, observed_at, raw)
SELECT 1 + g % 2, (ARRAY['order', 'withdrawal', 'deposit'])[1 + g % 3], 'E' || g, CASE WHEN g % 2 = 0 THEN 'Pending' ELSE 'Success' END,
       NULL, '2026-10-01 00:00+00'::timestamptz + g * interval '1 hour', jsonb_build_object('n', g)
  FROM generate_series(1, 60) g;

INSERT INTO audit.balances (account_id, snapshot_at, asset, balance, hold_trade, credit, credit_used, run_id, raw)
SELECT 1 + g % 2, '2026-10-01 03:05+00'::timestamptz + (g / 3) * interval '1 day', (ARRAY['XXBT', 'ZUSD', 'XETH'])[1 + g % 3],
       100 + g * 0.25, 0, NULL, NULL, 1 + (g / 3) % 30, jsonb_build_object('balance', (100 + g * 0.25)::text)
  FROM generate_series(1, 50) g;

INSERT INTO audit.findings (id, rule_id, severity, account_id, entity_type, entity_id, api_call_ids, title, evidence, dedupe_key,
                            first_seen, last_seen, status, status_note, status_changed_at, status_changed_by, occurred_at, detections,
                            last_run_id)
SELECT g, (ARRAY['unexpected_withdrawal', 'off_hours_trading', 'nonce_errors', 'stale_collection', 'ledger_gap'])[1 + g % 5],
       (ARRAY['info', 'low', 'medium', 'high', 'critical'])[1 + g % 5], 1 + g % 2, 'withdrawal', 'FTW' || lpad(g::text, 4, '0'),
       ARRAY[g::bigint], 'Finding ' || g || ' <b>&amp;</b> "quoted"', jsonb_build_object('amount', (0.1 * g)::text, 'n', g),
       'dedupe-' || g, '2026-10-02 03:00+00'::timestamptz + g * interval '1 day', '2026-10-20 03:00+00'::timestamptz + g * interval '1 day',
       (ARRAY['open', 'acknowledged', 'resolved', 'suppressed'])[1 + g % 4], CASE WHEN g % 4 > 0 THEN 'note ' || g END,
       CASE WHEN g % 4 > 0 THEN '2026-10-25 03:00+00'::timestamptz END, CASE WHEN g % 4 > 0 THEN 'alice' END,
       '2026-10-01 03:00+00'::timestamptz + g * interval '1 day', 1 + g % 4, 1 + g % 30
  FROM generate_series(1, 12) g;
SELECT setval('audit.findings_id_seq', 12);

INSERT INTO audit.finding_events (finding_id, at, old_status, new_status, note, changed_by, run_id)
SELECT 1 + g % 12, '2026-10-25 03:00+00'::timestamptz + g * interval '1 hour', 'open', 'acknowledged', 'event ' || g, 'alice', 1 + g % 30
  FROM generate_series(1, 15) g;

INSERT INTO audit.alert_outbox (finding_id, event, run_id, severity, created_at, delivery_id, attempts, next_attempt_at, delivered_at,
                                last_error)
SELECT g, CASE WHEN g % 3 = 0 THEN 'renotify' ELSE 'new' END, 1 + g % 30, (ARRAY['info', 'low', 'medium', 'high', 'critical'])[1 + g % 5],
       '2026-10-03 03:00+00'::timestamptz + g * interval '1 day', 'dlv-' || g, 1, '2026-10-03 03:00+00'::timestamptz + g * interval '1 day',
       CASE WHEN g % 5 = 0 THEN NULL ELSE '2026-10-03 03:01+00'::timestamptz + g * interval '1 day' END,
       CASE WHEN g % 5 = 0 THEN 'hook exited with status 1' END
  FROM generate_series(1, 10) g;

INSERT INTO audit.analysis_state (account_id, rule_id, analysed_until, rule_checksum, last_run_id, updated_at)
SELECT 1 + g % 2, (ARRAY['unexpected_withdrawal', 'off_hours_trading', 'nonce_errors'])[1 + g % 3], '2026-11-01 03:00+00', md5('rule' || g),
       30, '2026-11-01 03:00+00'
  FROM generate_series(1, 6) g;

INSERT INTO audit.exports (account_id, report, kraken_id, descr, attempt, status, kraken_status, starttm, endtm, requested_at, imported_at,
                           rows_in_file, rows_inserted, rows_already, mismatches, verification)
VALUES (1, 'ledgers', 'ABCD', 'kraken-audit acct1 ledgers 1', 1, 'imported', 'Processed', 1788000000, 1790000000, '2026-09-01 00:00+00',
        '2026-09-01 00:10+00', 100, 90, 10, 1, '{"ok": true}'),
       (1, 'trades', NULL, 'kraken-audit acct1 trades 1', 2, 'requesting', NULL, 1788000000, 1790000000, '2026-09-01 00:00+00', NULL,
        NULL, NULL, NULL, NULL, '{}');

INSERT INTO audit.source_mismatches (account_id, entity, entity_id, field, export_value, api_value, export_id, first_seen, last_seen)
SELECT 1, 'ledger', 'L' || lpad((g * 10)::text, 5, '0') || '-AAAAA-AAAAAA', 'amount', '1.0', '1.00000001', 'ABCD',
       '2026-09-01 00:10+00', '2026-09-01 00:10+00'
  FROM generate_series(1, 3) g;
