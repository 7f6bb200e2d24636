-- Question: do trades and ledger agree? Lists ledger entries of type trade whose refid names no trade, and
--           trades with no ledger entry (every trade books two: one per asset of the pair). Expected result:
--           no rows. A row means a gap in collection (re-run kraken-audit collect) or an inconsistency on
--           Kraken's side worth raising. Entries of the last minutes before a collection may show until the
--           next collection has both sides.
-- Reads:    kraken.ledger, kraken.trades
-- Parameters (psql -v name=value; all optional):
--   account  account name; empty = every account (default: empty)
--   since    only rows at or after this timestamptz (default: -infinity = the whole history)
-- Run:      psql -X -v account=main -f sql/queries/reconciliation_trades_ledger.sql
\if :{?account}
\else
  \set account ''
\endif
\if :{?since}
\else
  \set since -infinity
\endif

SELECT 'ledger entry without trade' AS problem, l.account, l.time, l.ledger_id AS id, l.refid AS refers_to,
       l.asset AS asset_or_pair, l.amount
  FROM kraken.ledger l
 WHERE l.type = 'trade'
   AND l.time >= :'since'::timestamptz
   AND (:'account' = '' OR l.account = :'account')
   AND NOT EXISTS (SELECT FROM kraken.trades t WHERE t.account_id = l.account_id AND t.txid = l.refid)
UNION ALL
SELECT 'trade without ledger entries', t.account, t.time, t.txid, t.ordertxid, t.pair, t.cost
  FROM kraken.trades t
 WHERE t.time >= :'since'::timestamptz
   AND (:'account' = '' OR t.account = :'account')
   AND NOT EXISTS (SELECT FROM kraken.ledger l WHERE l.account_id = t.account_id AND l.refid = t.txid AND l.type = 'trade')
 ORDER BY time, id;
