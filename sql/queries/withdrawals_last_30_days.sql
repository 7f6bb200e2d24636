-- Question: which withdrawals left the accounts in the last 30 days, to which addresses (and address-book
--           names), and in what state are they?
-- Reads:    kraken.withdrawals
-- Parameters (psql -v name=value; all optional):
--   as_of    end of the window, a timestamptz (default: now)
--   days     length of the window in days (default: 30)
--   account  account name; empty = every account (default: empty)
-- Run:      psql -X -v days=30 -f sql/queries/withdrawals_last_30_days.sql
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?days}
\else
  \set days 30
\endif
\if :{?account}
\else
  \set account ''
\endif

SELECT w.time, w.account, w.asset, w.amount, w.fee, w.address, w.address_name, w.method, w.network,
       w.status, w.status_prop, w.txid, w.refid
  FROM kraken.withdrawals w
 WHERE w.time > :'as_of'::timestamptz - make_interval(days => :'days'::integer)
   AND w.time <= :'as_of'::timestamptz
   AND (:'account' = '' OR w.account = :'account')
 ORDER BY w.time DESC, w.refid;
