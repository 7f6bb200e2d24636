-- Question: what else happened on the account around a finding? Every ledger entry, trade, order opened or
--           closed, withdrawal, deposit, API call and other finding within +-1 hour of when it occurred.
-- Reads:    kraken.findings, kraken.findings_open, kraken.ledger, kraken.trades, kraken.orders,
--           kraken.withdrawals, kraken.deposits, kraken.api_calls
-- Parameters (psql -v name=value; all optional):
--   finding_id  the finding (kraken-audit findings list); empty = the open finding with the highest
--               severity, most recent first (default: empty)
--   minutes     half-width of the window in minutes (default: 60)
-- Output:   one row per event, ordered by time; from_finding is the event time minus the finding's time.
--           A finding about no single account (account NULL) shows the activity of every account.
-- Run:      psql -X -v finding_id=42 -f sql/queries/activity_around_finding.sql
\if :{?finding_id}
\else
  \set finding_id ''
\endif
\if :{?minutes}
\else
  \set minutes 60
\endif

WITH f AS (
    SELECT fi.finding_id, fi.account_id, fi.occurred_at,
           fi.occurred_at - make_interval(mins => :'minutes'::integer) AS t0,
           fi.occurred_at + make_interval(mins => :'minutes'::integer) AS t1
      FROM kraken.findings fi
     WHERE fi.finding_id = coalesce(nullif(:'finding_id', '')::bigint,
                                    (SELECT o.finding_id FROM kraken.findings_open o
                                      ORDER BY o.severity_rank DESC, o.occurred_at DESC, o.finding_id DESC LIMIT 1))
)
SELECT e.time, e.time - f.occurred_at AS from_finding, e.kind, e.account, e.id, e.what, e.asset, e.amount
  FROM f
 CROSS JOIN LATERAL (
        SELECT l.time, 'ledger' AS kind, l.account, l.ledger_id AS id,
               l.type || coalesce('/' || nullif(l.subtype, ''), '') || ' refid ' || coalesce(l.refid, '-') AS what,
               l.asset, l.amount
          FROM kraken.ledger l
         WHERE (f.account_id IS NULL OR l.account_id = f.account_id) AND l.time BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT t.time, 'trade', t.account, t.txid,
               t.type || ' ' || t.vol || ' @ ' || t.price || ' (' || coalesce(t.ordertype, '?') || ', order ' || coalesce(t.ordertxid, '-') || ')',
               t.pair, t.cost
          FROM kraken.trades t
         WHERE (f.account_id IS NULL OR t.account_id = f.account_id) AND t.time BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT o.opentm, 'order opened', o.account, o.txid, coalesce(o.description, o.type || ' ' || o.ordertype),
               o.pair, o.vol
          FROM kraken.orders o
         WHERE (f.account_id IS NULL OR o.account_id = f.account_id) AND o.opentm BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT o.closetm, 'order ' || o.status, o.account, o.txid, coalesce(o.description, o.type || ' ' || o.ordertype),
               o.pair, o.vol_exec
          FROM kraken.orders o
         WHERE (f.account_id IS NULL OR o.account_id = f.account_id) AND o.closetm BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT w.time, 'withdrawal', w.account, w.refid,
               w.status || ' to ' || coalesce(w.address_name, '(no address-book name)') || ' ' || coalesce(w.address, '-'),
               w.asset, -w.amount
          FROM kraken.withdrawals w
         WHERE (f.account_id IS NULL OR w.account_id = f.account_id) AND w.time BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT d.time, 'deposit', d.account, d.refid, d.status || ' from ' || coalesce(d.address, '-'), d.asset, d.amount
          FROM kraken.deposits d
         WHERE (f.account_id IS NULL OR d.account_id = f.account_id) AND d.time BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT c.started_at, 'api call', c.account, c.call_id::text,
               c.endpoint || coalesce(' ' || c.error_kind || ' ' || array_to_string(c.errors, '; '), ' ok'),
               NULL, NULL
          FROM kraken.api_calls c
         WHERE (f.account_id IS NULL OR c.account_id = f.account_id) AND c.started_at BETWEEN f.t0 AND f.t1
        UNION ALL
        SELECT o.occurred_at, 'finding', o.account, o.finding_id::text, o.severity || ' ' || o.rule_id || ': ' || o.title,
               NULL, NULL
          FROM kraken.findings o
         WHERE (f.account_id IS NULL OR o.account_id = f.account_id) AND o.occurred_at BETWEEN f.t0 AND f.t1
           AND o.finding_id <> f.finding_id
       ) e
 ORDER BY e.time, e.kind, e.id;
