-- id: trade_size_outlier
-- title: Trade size far from the pair's history
-- severity: medium
-- entity: trade
-- input: collected
-- param: baseline_trades positive_integer 200 | How many of the pair's previous trades form the baseline.
-- param: min_history integer 30 | Previous trades of the pair needed before the rule fires.
-- param: max_robust_z number 5 | Report when |ln(cost) - median| / (1.4826 * MAD) of the baseline's ln(cost) exceeds this.
-- param: min_ratio positive_number 5 | ... and the trade is at least this many times larger (or smaller) than the median cost.
-- catches: a trade whose size, its notional `cost` in the pair's quote currency, is far from the account's
--   previous trades in that pair, by robust statistics on the logarithm of the cost (median and median
--   absolute deviation, so one earlier outlier does not move the baseline; logarithms because sizes are
--   multiplicative). Larger trades are medium, smaller ones low. The notional, not the base volume: people
--   size orders in money, so over a baseline of months the base volumes drift with the price (at 3% daily
--   volatility, typically by 1.3x in three months and 1.6x in nine), which widens the MAD until real outliers
--   hide. Fills split orders (partial fills, an order matched in two or three trades), a heavy lower tail
--   under the trade sizes: on realistic histories 1.4826 * MAD of ln(cost) is about 0.68 rather than the 0.45
--   of the order sizes, so a z of 5 already means about 30x the median, while min_ratio keeps the usual
--   spread (up to ~5x) quiet. Evidence: the trade, the baseline's median cost and volume, MAD, z-score, ratio.
-- false positives: a deliberate one-off rebalancing; a strategy change (sizes scale up for good); pairs with
--   few trades (min_history) or identical sizes (MAD 0: then min_ratio alone decides).
WITH scope AS (
    SELECT t.* FROM audit.trades t
     WHERE t.account_id = :'account_id'::integer AND t.vol > 0 AND t.cost > 0
       AND t.updated_at > :'changed_after'::timestamptz AND t.time >= :'occurred_after'::timestamptz
),
baseline AS (
    SELECT s.txid, b.n, b.median_ln, b.median_cost, b.median_vol, b.lns
      FROM scope s,
      LATERAL (
            SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY h.lc) AS median_ln,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY h.cost) AS median_cost,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY h.vol) AS median_vol, array_agg(h.lc) AS lns
              FROM (SELECT x.vol, x.cost, ln(x.cost::double precision) AS lc
                      FROM audit.trades x
                     WHERE x.account_id = s.account_id AND x.pair = s.pair AND x.cost > 0 AND x.time < s.time
                     ORDER BY x.time DESC LIMIT :'baseline_trades'::integer) h
      ) b
     WHERE b.n >= :'min_history'::integer
),
scored AS (
    SELECT s.*, b.n, b.median_ln, b.median_cost, b.median_vol, m.mad,
           ln(s.cost::double precision) - b.median_ln AS dev,
           CASE WHEN m.mad > 0 THEN abs(ln(s.cost::double precision) - b.median_ln) / (1.4826 * m.mad) END AS z,
           s.cost / nullif(b.median_cost, 0) AS ratio
      FROM scope s
      JOIN baseline b USING (txid),
      LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v - b.median_ln)) AS mad
                 FROM unnest(b.lns) v) m
)
SELECT :'account_id'::integer AS account_id,
       'trade' AS entity_type,
       s.txid AS entity_id,
       CASE WHEN s.dev > 0 THEN 'medium' ELSE 'low' END AS severity,
       format('Trade %s: %s %s %s is %s the usual size (cost %s, median cost %s over the last %s trades), %s %s',
              s.txid, s.type, trim_scale(s.vol), s.pair,
              CASE WHEN s.dev > 0 THEN round(s.ratio, 1) || 'x' ELSE '1/' || round(1 / s.ratio, 1) || ' of' END,
              trim_scale(s.cost), trim_scale(s.median_cost), s.n,
              to_char(s.time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text) AS title,
       jsonb_build_object(
           'txid', s.txid, 'ordertxid', s.ordertxid, 'pair', s.pair, 'type', s.type, 'ordertype', s.ordertype,
           'time', s.time, 'vol', s.vol::text, 'price', s.price::text, 'cost', s.cost::text,
           'baseline_trades', s.n, 'median_cost', s.median_cost::text, 'median_vol', s.median_vol::text,
           'ratio', round(s.ratio, 4)::text,
           'median_ln_cost', round(s.median_ln::numeric, 6), 'mad_ln_cost', round(s.mad::numeric, 6),
           'robust_z', round(s.z::numeric, 3), 'max_robust_z', :'max_robust_z'::numeric,
           'min_ratio', :'min_ratio'::numeric) AS evidence,
       format('trade_size_outlier:%s:%s', :'account_id'::integer, s.txid) AS dedupe_key,
       s.time AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM scored s
 WHERE (s.z IS NULL OR s.z > :'max_robust_z'::double precision)
   AND (s.ratio >= :'min_ratio'::numeric OR s.ratio <= 1 / :'min_ratio'::numeric);
