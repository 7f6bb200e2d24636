-- id: new_pair_or_asset
-- title: First trade in a pair or first movement of an asset
-- severity: low
-- entity: account
-- input: collected
-- param: min_history_days integer 7 | Only report when the account's history (ledger or trades) starts at least this many days earlier: the first days of a new account are all "new".
-- param: ignore_assets strings ["KFEE"] | Assets whose first movement is not reported.
-- catches: the account's first trade in a pair (by the pair key, e.g. XXBTZUSD) and the first ledger movement
--   of an asset (e.g. a deposit of a coin never held): new activity worth a look. One finding per pair or
--   asset, ever.
-- false positives: a planned diversification; Kraken's asset migrations (ETH2.S -> ETH, .M/.S suffix changes).
WITH origin AS (
    SELECT least((SELECT min(time) FROM audit.ledger_entries WHERE account_id = :'account_id'::integer),
                 (SELECT min(time) FROM audit.trades WHERE account_id = :'account_id'::integer)) AS started
),
new_pairs AS (
    -- For each pair with changed trades, the pair's first trade ever (index order); new if that one is in scope.
    SELECT 'pair' AS kind, p.pair AS name, f.time, f.txid AS first_id,
           format('%s %s %s @ %s', f.type, trim_scale(f.vol), f.pair, trim_scale(f.price)) AS what
      FROM (SELECT DISTINCT t.pair FROM audit.trades t
             WHERE t.account_id = :'account_id'::integer
               AND t.updated_at > :'changed_after'::timestamptz AND t.time >= :'occurred_after'::timestamptz) p
     CROSS JOIN LATERAL (
            SELECT x.* FROM audit.trades x
             WHERE x.account_id = :'account_id'::integer AND x.pair = p.pair
             ORDER BY x.time, x.txid LIMIT 1) f
     WHERE f.updated_at > :'changed_after'::timestamptz AND f.time >= :'occurred_after'::timestamptz
),
new_assets AS (
    SELECT 'asset' AS kind, a.asset AS name, f.time, f.ledger_id AS first_id,
           format('%s %s %s (ledger type %s)', CASE WHEN f.amount >= 0 THEN 'received' ELSE 'sent' END,
                  trim_scale(abs(f.amount)), f.asset, f.type) AS what
      FROM (SELECT DISTINCT l.asset FROM audit.ledger_entries l
             WHERE l.account_id = :'account_id'::integer
               AND l.updated_at > :'changed_after'::timestamptz AND l.time >= :'occurred_after'::timestamptz
               AND NOT (l.asset = ANY (:'ignore_assets'::text[]))) a
     CROSS JOIN LATERAL (
            SELECT x.* FROM audit.ledger_entries x
             WHERE x.account_id = :'account_id'::integer AND x.asset = a.asset
             ORDER BY x.time, x.ledger_id LIMIT 1) f
     WHERE f.updated_at > :'changed_after'::timestamptz AND f.time >= :'occurred_after'::timestamptz
),
found AS (
    SELECT * FROM new_pairs UNION ALL SELECT * FROM new_assets
)
SELECT :'account_id'::integer AS account_id,
       CASE f.kind WHEN 'pair' THEN 'trade' ELSE 'ledger' END AS entity_type,
       f.first_id AS entity_id,
       'low' AS severity,
       format('First %s %s for this account: %s, %s %s',
              CASE f.kind WHEN 'pair' THEN 'trade in pair' ELSE 'movement of asset' END, f.name, f.what,
              to_char(f.time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text) AS title,
       jsonb_build_object('kind', f.kind, f.kind, f.name, 'first_id', f.first_id, 'time', f.time,
                          'description', f.what, 'history_starts', o.started,
                          'min_history_days', :'min_history_days'::integer) AS evidence,
       format('new_pair_or_asset:%s:%s:%s', :'account_id'::integer, f.kind, f.name) AS dedupe_key,
       f.time AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM found f CROSS JOIN origin o
 WHERE f.time >= o.started + make_interval(days => :'min_history_days'::integer);
