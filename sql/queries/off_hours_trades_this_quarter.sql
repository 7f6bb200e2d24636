-- Question: which trades this quarter were executed outside business hours (nights, weekends), in the
--           business's local time?
-- Reads:    kraken.trades
-- Parameters (psql -v name=value; all optional):
--   as_of      a time in the quarter of interest; the quarter runs from its first day 00:00 local time up
--              to as_of (default: now)
--   timezone   IANA time zone of the business hours (default: UTC; use the config's timezone, e.g.
--              Europe/Berlin)
--   day_start  start of business hours, local (default: 08:00)
--   day_end    end of business hours, local (default: 18:00)
--   weekdays   ISO weekdays that are business days, 1 = Monday (default: {1,2,3,4,5})
--   account    account name; empty = every account (default: empty)
-- Run:      psql -X -v timezone=Europe/Berlin -v day_end=20:00 -f sql/queries/off_hours_trades_this_quarter.sql
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?timezone}
\else
  \set timezone UTC
\endif
\if :{?day_start}
\else
  \set day_start 08:00
\endif
\if :{?day_end}
\else
  \set day_end 18:00
\endif
\if :{?weekdays}
\else
  \set weekdays '{1,2,3,4,5}'
\endif
\if :{?account}
\else
  \set account ''
\endif

WITH q AS (
    SELECT date_trunc('quarter', :'as_of'::timestamptz AT TIME ZONE :'timezone') AT TIME ZONE :'timezone' AS starts,
           :'as_of'::timestamptz AS ends
), t AS (
    SELECT tr.*, tr.time AT TIME ZONE :'timezone' AS local_time
      FROM kraken.trades tr, q
     WHERE tr.time >= q.starts AND tr.time <= q.ends
       AND (:'account' = '' OR tr.account = :'account')
)
SELECT t.local_time, to_char(t.local_time, 'Dy') AS weekday, t.time, t.account, t.pair, t.type, t.ordertype,
       t.vol, t.price, t.cost, t.fee, t.txid, t.ordertxid,
       CASE WHEN extract(isodow FROM t.local_time)::integer <> ALL (:'weekdays'::integer[]) THEN 'non-business day'
            WHEN t.local_time::time < :'day_start'::time THEN 'before business hours'
            ELSE 'after business hours' END AS why
  FROM t
 WHERE extract(isodow FROM t.local_time)::integer <> ALL (:'weekdays'::integer[])
    OR t.local_time::time < :'day_start'::time
    OR t.local_time::time >= :'day_end'::time
 ORDER BY t.time;
