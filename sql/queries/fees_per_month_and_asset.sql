-- Question: how much did we pay in fees per calendar month (UTC) and asset, split into trading, withdrawal
--           and other fees?
-- Reads:    kraken.ledger (every fee Kraken charged is booked on a ledger entry, in the asset it was paid in)
-- Parameters (psql -v name=value; all optional):
--   as_of    last instant counted, a timestamptz (default: now)
--   months   number of calendar months up to and including the month of as_of (default: 12)
--   account  account name; empty = every account (default: empty)
-- Run:      psql -X -v months=6 -f sql/queries/fees_per_month_and_asset.sql
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?months}
\else
  \set months 12
\endif
\if :{?account}
\else
  \set account ''
\endif

SELECT date_trunc('month', l.time AT TIME ZONE 'UTC')::date AS month,
       l.account, l.asset,
       sum(l.fee) AS fees,
       coalesce(sum(l.fee) FILTER (WHERE l.type = 'trade'), 0) AS trading_fees,
       coalesce(sum(l.fee) FILTER (WHERE l.type = 'withdrawal'), 0) AS withdrawal_fees,
       coalesce(sum(l.fee) FILTER (WHERE l.type NOT IN ('trade', 'withdrawal')), 0) AS other_fees,
       count(*) AS entries_with_fee
  FROM kraken.ledger l
 WHERE l.fee <> 0
   AND l.time >= (date_trunc('month', :'as_of'::timestamptz AT TIME ZONE 'UTC')
                  - make_interval(months => :'months'::integer - 1)) AT TIME ZONE 'UTC'
   AND l.time <= :'as_of'::timestamptz
   AND (:'account' = '' OR l.account = :'account')
 GROUP BY 1, 2, 3
 ORDER BY 1 DESC, 2, 3;
