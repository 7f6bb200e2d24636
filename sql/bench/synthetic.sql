-- Synthetic, anomaly-free collected data for the analyser benchmark (scripts/bench-analyser).
-- psql variables: events (how many events to add), first (index of the first event, 0 for a fresh database),
-- seen (when the rows were "collected": first_seen_at/updated_at), account (account id).
-- Event i: every 50th a withdrawal of 0.1 XXBT to the allowlisted address, every 50th+1 a ZUSD deposit, else a
-- trade (order + trade + XXBT and ZUSD ledger legs). Times are business minutes (Mon-Fri 08:00-17:59 Berlin),
-- so the data is clean for every rule; ledger balances run consistently, continuing from earlier events.
-- Rows go straight into the version tables (migration 0012), not through the current-version views, whose INSTEAD OF
-- trigger appends one row at a time (every row here is a new object: version 1). The chain trigger links them.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE ev ON COMMIT DROP AS
SELECT i,
       CASE WHEN i % 50 = 0 THEN 'withdrawal' WHEN i % 50 = 1 THEN 'deposit' ELSE 'trade' END AS kind,
       ((date '2021-01-04' + (((i / 600) / 5) * 7 + ((i / 600) % 5))::integer)
         + time '08:00' + make_interval(mins => (i % 600)::integer, secs => 30)) AT TIME ZONE 'Europe/Berlin' AS at,
       upper(substr(md5(i::text || 'x'), 1, 16)) AS h1,
       upper(substr(md5(i::text || 'y'), 1, 16)) AS h2,
       (0.0100000000 + (i % 40) * 0.0010000000)::numeric AS vol,
       (30000 + (i % 997))::numeric AS price,
       i % 4 < 2 AS buy
  FROM generate_series(:first::bigint, :first::bigint + :events::bigint - 1) AS i;

CREATE TEMP TABLE legs ON COMMIT DROP AS
SELECT 'L' || substr(h1, 1, 5) || '-' || substr(h1, 6, 5) || '-' || substr(h1, 11, 6) AS ledger_id,
       CASE kind WHEN 'trade' THEN 'T' || substr(h2, 1, 5) || '-' || substr(h2, 6, 5) || '-' || substr(h2, 11, 6)
                 ELSE 'FTQcuak-bench-' || i END AS refid,
       at, kind AS type, CASE kind WHEN 'deposit' THEN 'ZUSD' ELSE 'XXBT' END AS asset,
       CASE kind WHEN 'withdrawal' THEN -0.1000000000 WHEN 'deposit' THEN 10000.0000000000
                 ELSE CASE WHEN buy THEN vol ELSE -vol END END AS amount,
       CASE kind WHEN 'withdrawal' THEN 0.0002000000 ELSE 0 END AS fee, i
  FROM ev
UNION ALL
SELECT 'L' || substr(h2, 1, 5) || '-' || substr(h1, 6, 5) || '-' || substr(h2, 11, 6),
       'T' || substr(h2, 1, 5) || '-' || substr(h2, 6, 5) || '-' || substr(h2, 11, 6),
       at, 'trade', 'ZUSD', CASE WHEN buy THEN -(vol * price) ELSE vol * price END, round(vol * price * 0.0016, 10), i
  FROM ev WHERE kind = 'trade';

CREATE TEMP TABLE opening ON COMMIT DROP AS
SELECT a.asset, coalesce((SELECT x.balance FROM audit.ledger_entries x WHERE x.account_id = :account AND x.asset = a.asset
                           ORDER BY x.time DESC, x.ledger_id DESC LIMIT 1), 0) AS balance
  FROM (SELECT DISTINCT asset FROM legs) a;

INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw, first_seen_at, updated_at)
SELECT :account, l.ledger_id, l.refid, l.at, l.type, l.asset, l.amount, l.fee,
       o.balance + sum(l.amount - l.fee) OVER (PARTITION BY l.asset ORDER BY l.at, l.ledger_id),
       jsonb_build_object('refid', l.refid, 'type', l.type, 'asset', l.asset, 'amount', l.amount::text), :'seen', :'seen'
  FROM legs l JOIN opening o USING (asset);

INSERT INTO audit.order_versions (account_id, txid, status, opentm, closetm, descr_pair, descr_type, descr_ordertype, vol, vol_exec, raw,
                          first_seen_at, updated_at)
SELECT :account, 'O' || substr(h1, 1, 5) || '-' || substr(h2, 6, 5) || '-' || substr(h1, 11, 6), 'closed',
       at - interval '5 seconds', at, 'XBTUSD', CASE WHEN buy THEN 'buy' ELSE 'sell' END, 'limit', vol, vol, '{}', :'seen', :'seen'
  FROM ev WHERE kind = 'trade';

INSERT INTO audit.trade_versions (account_id, txid, ordertxid, pair, time, type, ordertype, price, cost, fee, vol, raw, first_seen_at, updated_at)
SELECT :account, 'T' || substr(h2, 1, 5) || '-' || substr(h2, 6, 5) || '-' || substr(h2, 11, 6),
       'O' || substr(h1, 1, 5) || '-' || substr(h2, 6, 5) || '-' || substr(h1, 11, 6), 'XXBTZUSD', at,
       CASE WHEN buy THEN 'buy' ELSE 'sell' END, 'limit', price, vol * price, round(vol * price * 0.0016, 10), vol, '{}', :'seen', :'seen'
  FROM ev WHERE kind = 'trade';

INSERT INTO audit.withdrawal_versions (account_id, refid, method, asset, info, key, amount, fee, time, status, raw, first_seen_at, updated_at)
SELECT :account, 'FTQcuak-bench-' || i, 'Bitcoin', 'XXBT', 'bc1qa35ls3egf0872h3w', 'btc-cold', 0.1000000000, 0.0002000000, at,
       'Success', '{}', :'seen', :'seen'
  FROM ev WHERE kind = 'withdrawal';

-- The call log: one Ledgers page per 50 events, all successful.
INSERT INTO audit.api_calls (account_id, key_fingerprint, endpoint, nonce, started_at, duration_ms, http_status, errors)
SELECT :account, 'sha256:0123456789abcdef', 'Ledgers', 1600000000000 + i, at, 150, 200, '{}'
  FROM ev WHERE i % 50 = 7;
COMMIT;
