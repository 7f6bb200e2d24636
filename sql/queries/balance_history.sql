-- Question: how did the balance of one asset develop, day by day (end of each UTC day)?
-- Reads:    kraken.balances_daily
-- Parameters (psql -v name=value; all optional):
--   asset    Kraken asset key (default: XXBT)
--   as_of    last day shown, a timestamptz (default: now)
--   days     number of days up to as_of (default: 90)
--   account  account name; empty = every account, one series each (default: empty)
-- Run:      psql -X -v asset=XETH -v days=30 -f sql/queries/balance_history.sql
\if :{?asset}
\else
  \set asset XXBT
\endif
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?days}
\else
  \set days 90
\endif
\if :{?account}
\else
  \set account ''
\endif

SELECT b.day, b.account, b.asset, b.balance, b.net_change, b.entries, b.last_entry_at
  FROM kraken.balances_daily b
 WHERE b.asset = :'asset'
   AND b.day > (:'as_of'::timestamptz AT TIME ZONE 'UTC')::date - :'days'::integer
   AND b.day <= (:'as_of'::timestamptz AT TIME ZONE 'UTC')::date
   AND (:'account' = '' OR b.account = :'account')
 ORDER BY b.account, b.day;
