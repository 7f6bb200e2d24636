-- Question: what volume did we actually trade (executed fills, not orders) per pair and week?
-- Reads:    kraken.trading_daily (weeks are ISO weeks, Monday 00:00 UTC to Sunday 24:00 UTC)
-- Parameters (psql -v name=value; all optional):
--   as_of    last day counted, a timestamptz (default: now)
--   weeks    number of weeks up to and including the week of as_of (default: 12)
--   account  account name; empty = every account (default: empty)
--   pair     Kraken pair key (e.g. XXBTZEUR); empty = every pair (default: empty)
-- Output:   volume in the base asset, cost and fees in the quote asset (never summed across pairs).
-- Run:      psql -X -v weeks=8 -v pair=XXBTZEUR -f sql/queries/volume_per_pair_per_week.sql
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?weeks}
\else
  \set weeks 12
\endif
\if :{?account}
\else
  \set account ''
\endif
\if :{?pair}
\else
  \set pair ''
\endif

SELECT date_trunc('week', d.day)::date AS week, d.account, d.pair,
       sum(d.trades) AS trades, sum(d.buys) AS buys, sum(d.sells) AS sells,
       sum(d.volume) AS volume, sum(d.volume_bought) AS volume_bought, sum(d.volume_sold) AS volume_sold,
       sum(d.cost) AS cost, sum(d.fees) AS fees,
       sum(d.cost) / nullif(sum(d.volume), 0) AS avg_price
  FROM kraken.trading_daily d
 WHERE d.day >= date_trunc('week', (:'as_of'::timestamptz AT TIME ZONE 'UTC')::date)::date
                - 7 * (:'weeks'::integer - 1)
   AND d.day <= (:'as_of'::timestamptz AT TIME ZONE 'UTC')::date
   AND (:'account' = '' OR d.account = :'account')
   AND (:'pair' = '' OR d.pair = :'pair')
 GROUP BY 1, 2, 3
 ORDER BY 1 DESC, 2, 3;
