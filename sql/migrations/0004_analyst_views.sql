-- kraken-audit analyst interface (issue 8): the stable, documented, read-only surface analysts query with psql,
-- notebooks, Metabase or Grafana, and the two database roles.
--
-- Why a schema of its own (`kraken`) and not views in `audit`: the names the analysts should use (trades, orders,
-- withdrawals, deposits) are taken by internal tables in `audit`, and those tables may change with any migration.
-- Schema `kraken` holds views only; they are the contract. `audit` stays internal: the reader role has no access to
-- it at all (not even USAGE), so it cannot see api_keys, raw JSON, the call log's parameters or call audit functions.
--
-- Conventions of every view: account names next to ids; amounts NUMERIC exactly as Kraken sent them; times
-- timestamptz; days and hours are UTC (date_trunc in UTC, whatever the session's TimeZone); no `raw` JSON.
-- Views run with their owner's rights (security_invoker off), so the reader needs SELECT on the views only.
-- Sessions of kraken-audit use TimeZone=UTC; psql users see timestamptz in their own TimeZone (same instants).

CREATE SCHEMA kraken;
COMMENT ON SCHEMA kraken IS 'kraken-audit''s stable interface for analysts: documented read-only views over the internal schema audit. Read it as kraken_audit_reader (see sql/README.md). Days and hours are UTC.';

-- ---------------------------------------------------------------------------------------------------------------
-- Accounts and assets
-- ---------------------------------------------------------------------------------------------------------------

CREATE VIEW kraken.accounts AS
SELECT a.id AS account_id, a.name AS account, a.created_at
  FROM audit.accounts a;
COMMENT ON VIEW kraken.accounts IS 'Kraken accounts audited, one row per [[account]] of the config.';
COMMENT ON COLUMN kraken.accounts.account_id IS 'Internal account id (stable; joins every other view).';
COMMENT ON COLUMN kraken.accounts.account IS 'Account name: the label given in the config ([[account]] name).';
COMMENT ON COLUMN kraken.accounts.created_at IS 'When kraken-audit first saw the account.';

CREATE VIEW kraken.assets AS
SELECT DISTINCT ON (l.account_id, l.asset)
       l.account_id, a.name AS account, l.asset, l.aclass,
       l.balance,
       l.time AS last_entry_at,
       min(l.time) OVER w AS first_entry_at,
       count(*) OVER w AS entries
  FROM audit.ledger_entries l
  JOIN audit.accounts a ON a.id = l.account_id
WINDOW w AS (PARTITION BY l.account_id, l.asset)
 ORDER BY l.account_id, l.asset, l.time DESC, l.ledger_id DESC;
COMMENT ON VIEW kraken.assets IS 'Every asset an account''s ledger ever moved, with its current ledger balance.';
COMMENT ON COLUMN kraken.assets.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.assets.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.assets.asset IS 'Kraken asset key as in the ledger (XXBT, XETH, ZEUR, DOT, XBT.M ...).';
COMMENT ON COLUMN kraken.assets.aclass IS 'Kraken asset class (currency).';
COMMENT ON COLUMN kraken.assets.balance IS 'Balance after the latest ledger entry of this asset (exact NUMERIC).';
COMMENT ON COLUMN kraken.assets.last_entry_at IS 'Time of the latest ledger entry of this asset.';
COMMENT ON COLUMN kraken.assets.first_entry_at IS 'Time of the first ledger entry of this asset.';
COMMENT ON COLUMN kraken.assets.entries IS 'Number of ledger entries of this asset.';

-- ---------------------------------------------------------------------------------------------------------------
-- Entities as Kraken reports them
-- ---------------------------------------------------------------------------------------------------------------

CREATE VIEW kraken.ledger AS
SELECT l.account_id, a.name AS account, l.ledger_id, l.refid, l.time, l.type, l.subtype, l.aclass, l.asset,
       l.amount, l.fee, l.amount - l.fee AS net_amount, l.balance, l.source, l.first_seen_at, l.updated_at
  FROM audit.ledger_entries l
  JOIN audit.accounts a ON a.id = l.account_id;
COMMENT ON VIEW kraken.ledger IS 'Kraken ledger entries (Ledgers endpoint or imported export): every balance change of every asset. The complete history of an account.';
COMMENT ON COLUMN kraken.ledger.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.ledger.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.ledger.ledger_id IS 'Kraken ledger id (L...), unique per account.';
COMMENT ON COLUMN kraken.ledger.refid IS 'Kraken reference id of what caused the entry: the trade txid for trade entries, the funding refid for deposits/withdrawals.';
COMMENT ON COLUMN kraken.ledger.time IS 'When the entry was booked (exact; Kraken''s fractional seconds kept).';
COMMENT ON COLUMN kraken.ledger.type IS 'Kraken entry type: trade, deposit, withdrawal, transfer, staking, earn, margin, rollover, spend, receive, adjustment, ...';
COMMENT ON COLUMN kraken.ledger.subtype IS 'Kraken entry subtype (e.g. spottostaking); empty string when none.';
COMMENT ON COLUMN kraken.ledger.aclass IS 'Kraken asset class (currency).';
COMMENT ON COLUMN kraken.ledger.asset IS 'Kraken asset key (XXBT, XETH, ZEUR, ...).';
COMMENT ON COLUMN kraken.ledger.amount IS 'Amount of the change, signed (negative = out), exact NUMERIC, before the fee.';
COMMENT ON COLUMN kraken.ledger.fee IS 'Fee charged in this asset by this entry (positive), exact NUMERIC.';
COMMENT ON COLUMN kraken.ledger.net_amount IS 'amount - fee: the net change of the balance by this entry.';
COMMENT ON COLUMN kraken.ledger.balance IS 'Balance of the asset after this entry, as Kraken reported it.';
COMMENT ON COLUMN kraken.ledger.source IS 'Where the row came from: api (Ledgers endpoint) or export (Kraken''s ledger export).';
COMMENT ON COLUMN kraken.ledger.first_seen_at IS 'When kraken-audit first stored the entry.';
COMMENT ON COLUMN kraken.ledger.updated_at IS 'When kraken-audit last changed the stored entry (Kraken changed it).';

CREATE VIEW kraken.trades AS
SELECT t.account_id, a.name AS account, t.txid, t.ordertxid, t.postxid, t.pair, t.time, t.type, t.ordertype,
       t.price, t.vol, t.cost, t.fee, t.margin, t.leverage, t.maker, t.misc, t.trade_id, t.ledgers, t.posstatus,
       t.source, t.first_seen_at, t.updated_at
  FROM audit.trades t
  JOIN audit.accounts a ON a.id = t.account_id;
COMMENT ON VIEW kraken.trades IS 'Executed trades (TradesHistory endpoint or imported export), one row per fill.';
COMMENT ON COLUMN kraken.trades.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.trades.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.trades.txid IS 'Kraken trade id (T...), unique per account; the refid of the trade''s ledger entries.';
COMMENT ON COLUMN kraken.trades.ordertxid IS 'Id of the order the trade filled (O...); see kraken.orders.';
COMMENT ON COLUMN kraken.trades.postxid IS 'Id of the position the trade opened or closed (margin trades).';
COMMENT ON COLUMN kraken.trades.pair IS 'Kraken pair key (XXBTZEUR, XETHZUSD, ...): base asset then quote asset.';
COMMENT ON COLUMN kraken.trades.time IS 'When the trade executed.';
COMMENT ON COLUMN kraken.trades.type IS 'buy or sell (of the base asset).';
COMMENT ON COLUMN kraken.trades.ordertype IS 'Order type: market, limit, stop-loss, ...';
COMMENT ON COLUMN kraken.trades.price IS 'Average price, in the quote asset per unit of base asset.';
COMMENT ON COLUMN kraken.trades.vol IS 'Volume, in the base asset.';
COMMENT ON COLUMN kraken.trades.cost IS 'Total cost (price x volume), in the quote asset, before the fee.';
COMMENT ON COLUMN kraken.trades.fee IS 'Fee, in the quote asset.';
COMMENT ON COLUMN kraken.trades.margin IS 'Initial margin, in the quote asset (margin trades).';
COMMENT ON COLUMN kraken.trades.leverage IS 'Leverage (margin trades), as Kraken sent it.';
COMMENT ON COLUMN kraken.trades.maker IS 'true if the trade was the maker side, false if taker; NULL if Kraken did not say.';
COMMENT ON COLUMN kraken.trades.misc IS 'Kraken''s comma-separated flags (closing, ...).';
COMMENT ON COLUMN kraken.trades.trade_id IS 'Kraken''s public trade id (the pair''s trade sequence number).';
COMMENT ON COLUMN kraken.trades.ledgers IS 'Ledger ids the trade booked (when Kraken sent them).';
COMMENT ON COLUMN kraken.trades.posstatus IS 'Position status (open/closed) for margin trades.';
COMMENT ON COLUMN kraken.trades.source IS 'api (TradesHistory endpoint) or export (Kraken''s trades export).';
COMMENT ON COLUMN kraken.trades.first_seen_at IS 'When kraken-audit first stored the trade.';
COMMENT ON COLUMN kraken.trades.updated_at IS 'When kraken-audit last changed the stored trade.';

CREATE VIEW kraken.orders AS
SELECT o.account_id, a.name AS account, o.txid, o.refid, o.userref, o.cl_ord_id, o.status, o.reason,
       o.opentm, o.closetm, o.starttm, o.expiretm,
       o.descr_pair AS pair, o.descr_type AS type, o.descr_ordertype AS ordertype,
       o.descr_price, o.descr_price2, o.descr_leverage AS leverage, o.descr_order AS description,
       o.descr_close AS close_order,
       o.vol, o.vol_exec, o.cost, o.fee, o.price, o.stopprice, o.limitprice, o.trigger, o.misc, o.oflags,
       o.trades, o.first_seen_at, o.updated_at
  FROM audit.orders o
  JOIN audit.accounts a ON a.id = o.account_id;
COMMENT ON VIEW kraken.orders IS 'Orders (ClosedOrders, OpenOrders, QueryOrders endpoints) in their latest known state.';
COMMENT ON COLUMN kraken.orders.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.orders.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.orders.txid IS 'Kraken order id (O...), unique per account.';
COMMENT ON COLUMN kraken.orders.refid IS 'Referral order id that created this order, if any.';
COMMENT ON COLUMN kraken.orders.userref IS 'User reference number given when the order was placed.';
COMMENT ON COLUMN kraken.orders.cl_ord_id IS 'Client order id given when the order was placed.';
COMMENT ON COLUMN kraken.orders.status IS 'pending, open, closed, canceled or expired (latest state seen).';
COMMENT ON COLUMN kraken.orders.reason IS 'Why the order was closed or canceled, if Kraken said.';
COMMENT ON COLUMN kraken.orders.opentm IS 'When the order was placed.';
COMMENT ON COLUMN kraken.orders.closetm IS 'When the order was closed (NULL while open).';
COMMENT ON COLUMN kraken.orders.starttm IS 'Scheduled start time (NULL if none).';
COMMENT ON COLUMN kraken.orders.expiretm IS 'Expiry time (NULL if none).';
COMMENT ON COLUMN kraken.orders.pair IS 'Kraken pair (descr.pair).';
COMMENT ON COLUMN kraken.orders.type IS 'buy or sell (descr.type).';
COMMENT ON COLUMN kraken.orders.ordertype IS 'market, limit, stop-loss, take-profit, ... (descr.ordertype).';
COMMENT ON COLUMN kraken.orders.descr_price IS 'Primary price of the order (limit or trigger price; descr.price).';
COMMENT ON COLUMN kraken.orders.descr_price2 IS 'Secondary price (descr.price2).';
COMMENT ON COLUMN kraken.orders.leverage IS 'Leverage (descr.leverage).';
COMMENT ON COLUMN kraken.orders.description IS 'Kraken''s one-line description of the order (descr.order).';
COMMENT ON COLUMN kraken.orders.close_order IS 'Conditional close order description (descr.close).';
COMMENT ON COLUMN kraken.orders.vol IS 'Volume ordered, in the base asset.';
COMMENT ON COLUMN kraken.orders.vol_exec IS 'Volume executed so far, in the base asset.';
COMMENT ON COLUMN kraken.orders.cost IS 'Total cost of the executed part, in the quote asset.';
COMMENT ON COLUMN kraken.orders.fee IS 'Total fee, in the quote asset.';
COMMENT ON COLUMN kraken.orders.price IS 'Average execution price.';
COMMENT ON COLUMN kraken.orders.stopprice IS 'Stop price (triggered orders).';
COMMENT ON COLUMN kraken.orders.limitprice IS 'Triggered limit price.';
COMMENT ON COLUMN kraken.orders.trigger IS 'Price signal of triggered orders (last or index).';
COMMENT ON COLUMN kraken.orders.misc IS 'Kraken''s comma-separated misc info (stopped, touched, liquidated, partial ...).';
COMMENT ON COLUMN kraken.orders.oflags IS 'Order flags (post, fcib, fciq, nompp, viqc ...).';
COMMENT ON COLUMN kraken.orders.trades IS 'Trade ids (T...) that filled the order, when Kraken sent them.';
COMMENT ON COLUMN kraken.orders.first_seen_at IS 'When kraken-audit first stored the order.';
COMMENT ON COLUMN kraken.orders.updated_at IS 'When kraken-audit last saw the order change.';

CREATE VIEW kraken.withdrawals AS
SELECT w.account_id, a.name AS account, w.refid, w.time, w.asset, w.aclass, w.method, w.network,
       w.amount, w.fee, w.info AS address, w.key AS address_name, w.txid, w.status, w.status_prop,
       w.first_seen_at, w.updated_at
  FROM audit.withdrawals w
  JOIN audit.accounts a ON a.id = w.account_id;
COMMENT ON VIEW kraken.withdrawals IS 'Withdrawals (WithdrawStatus endpoint) with destination address and address-book name, in their latest known state. Kraken only serves recent withdrawals: the ledger (type withdrawal) is the complete history.';
COMMENT ON COLUMN kraken.withdrawals.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.withdrawals.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.withdrawals.refid IS 'Kraken funding reference id; the refid of the withdrawal''s ledger entry.';
COMMENT ON COLUMN kraken.withdrawals.time IS 'When the withdrawal was requested.';
COMMENT ON COLUMN kraken.withdrawals.asset IS 'Kraken asset key withdrawn (XXBT, XETH, ZEUR, ...).';
COMMENT ON COLUMN kraken.withdrawals.aclass IS 'Kraken asset class (currency).';
COMMENT ON COLUMN kraken.withdrawals.method IS 'Withdrawal method (Bitcoin, Ether, SEPA, ...).';
COMMENT ON COLUMN kraken.withdrawals.network IS 'Network used (Bitcoin, Ethereum, ...), when Kraken says.';
COMMENT ON COLUMN kraken.withdrawals.amount IS 'Amount withdrawn, positive, exact NUMERIC, fee not included.';
COMMENT ON COLUMN kraken.withdrawals.fee IS 'Withdrawal fee in the same asset.';
COMMENT ON COLUMN kraken.withdrawals.address IS 'Destination: blockchain address or bank account reference (Kraken field info).';
COMMENT ON COLUMN kraken.withdrawals.address_name IS 'Name of the address-book entry (withdrawal key) used (Kraken field key).';
COMMENT ON COLUMN kraken.withdrawals.txid IS 'Blockchain transaction id once broadcast (NULL before, and for fiat).';
COMMENT ON COLUMN kraken.withdrawals.status IS 'Initial, Pending, Settled, Success or Failure (latest state seen).';
COMMENT ON COLUMN kraken.withdrawals.status_prop IS 'Additional status: cancel-pending, canceled, cancel-denied, return, onhold.';
COMMENT ON COLUMN kraken.withdrawals.first_seen_at IS 'When kraken-audit first stored the withdrawal.';
COMMENT ON COLUMN kraken.withdrawals.updated_at IS 'When kraken-audit last saw it change (e.g. Pending to Success).';

CREATE VIEW kraken.deposits AS
SELECT d.account_id, a.name AS account, d.refid, d.time, d.asset, d.aclass, d.method, d.network,
       d.amount, d.fee, d.info AS address, d.txid, d.status, d.status_prop,
       d.first_seen_at, d.updated_at
  FROM audit.deposits d
  JOIN audit.accounts a ON a.id = d.account_id;
COMMENT ON VIEW kraken.deposits IS 'Deposits (DepositStatus endpoint) in their latest known state. Kraken only serves recent deposits: the ledger (type deposit) is the complete history.';
COMMENT ON COLUMN kraken.deposits.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.deposits.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.deposits.refid IS 'Kraken funding reference id; the refid of the deposit''s ledger entry.';
COMMENT ON COLUMN kraken.deposits.time IS 'When the deposit was received.';
COMMENT ON COLUMN kraken.deposits.asset IS 'Kraken asset key deposited.';
COMMENT ON COLUMN kraken.deposits.aclass IS 'Kraken asset class (currency).';
COMMENT ON COLUMN kraken.deposits.method IS 'Deposit method (Bitcoin, Ether, SEPA, ...).';
COMMENT ON COLUMN kraken.deposits.network IS 'Network used, when Kraken says.';
COMMENT ON COLUMN kraken.deposits.amount IS 'Amount deposited, positive, exact NUMERIC.';
COMMENT ON COLUMN kraken.deposits.fee IS 'Deposit fee in the same asset (NULL when Kraken sent none).';
COMMENT ON COLUMN kraken.deposits.address IS 'Deposit address or bank reference (Kraken field info).';
COMMENT ON COLUMN kraken.deposits.txid IS 'Blockchain transaction id (NULL for fiat).';
COMMENT ON COLUMN kraken.deposits.status IS 'Settled (received, awaiting confirmations), Success or Failure (latest state seen).';
COMMENT ON COLUMN kraken.deposits.status_prop IS 'Additional status: return, onhold.';
COMMENT ON COLUMN kraken.deposits.first_seen_at IS 'When kraken-audit first stored the deposit.';
COMMENT ON COLUMN kraken.deposits.updated_at IS 'When kraken-audit last saw it change.';

-- ---------------------------------------------------------------------------------------------------------------
-- Daily aggregates (days are UTC calendar days)
-- ---------------------------------------------------------------------------------------------------------------

-- One row per account, asset and UTC day from the asset's first ledger day up to the account's horizon (the later
-- of its last ledger day and the day of its last successful collection), so days without entries carry the
-- previous balance forward (a step line in Grafana, an as-of lookup in SQL).
CREATE VIEW kraken.balances_daily AS
WITH per_day AS (
    SELECT l.account_id, l.asset, (l.time AT TIME ZONE 'UTC')::date AS day,
           (array_agg(l.balance ORDER BY l.time DESC, l.ledger_id DESC))[1] AS balance,
           max(l.time) AS last_entry_at,
           count(*) AS entries,
           sum(l.amount - l.fee) AS net_change
      FROM audit.ledger_entries l
     GROUP BY 1, 2, 3
), horizon AS (
    SELECT p.account_id,
           greatest(max(p.day),
                    (SELECT (max(r.finished_at) AT TIME ZONE 'UTC')::date
                       FROM audit.collector_runs r
                      WHERE r.account_id = p.account_id AND r.status = 'success')) AS last_day
      FROM per_day p
     GROUP BY p.account_id
), grid AS (
    SELECT f.account_id, f.asset, g.day::date AS day
      FROM (SELECT account_id, asset, min(day) AS first_day FROM per_day GROUP BY 1, 2) f
      JOIN horizon h USING (account_id)
     CROSS JOIN LATERAL generate_series(f.first_day, h.last_day, interval '1 day') AS g(day)
), filled AS (
    SELECT g.account_id, g.asset, g.day, p.balance, p.last_entry_at, p.entries, p.net_change,
           count(p.day) OVER (PARTITION BY g.account_id, g.asset ORDER BY g.day) AS run
      FROM grid g
      LEFT JOIN per_day p ON p.account_id = g.account_id AND p.asset = g.asset AND p.day = g.day
)
SELECT f.day, f.account_id, a.name AS account, f.asset,
       first_value(f.balance) OVER run_w AS balance,
       coalesce(f.entries, 0) AS entries,
       coalesce(f.net_change, 0) AS net_change,
       first_value(f.last_entry_at) OVER run_w AS last_entry_at
  FROM filled f
  JOIN audit.accounts a ON a.id = f.account_id
WINDOW run_w AS (PARTITION BY f.account_id, f.asset, f.run ORDER BY f.day);
COMMENT ON VIEW kraken.balances_daily IS 'End-of-day balance per account, asset and UTC day, from the ledger''s running balance (the balance after the day''s last entry). Days without entries repeat the previous balance, from the asset''s first entry up to the later of the account''s last ledger day and its last successful collection.';
COMMENT ON COLUMN kraken.balances_daily.day IS 'UTC calendar day (00:00-24:00 UTC). For a timestamptz use day::timestamp AT TIME ZONE ''UTC''.';
COMMENT ON COLUMN kraken.balances_daily.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.balances_daily.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.balances_daily.asset IS 'Kraken asset key.';
COMMENT ON COLUMN kraken.balances_daily.balance IS 'Balance at the end of the UTC day: the ledger balance after the day''s last entry, or the previous day''s balance if none (exact NUMERIC).';
COMMENT ON COLUMN kraken.balances_daily.entries IS 'Ledger entries of this asset booked that day (0 on carried-forward days).';
COMMENT ON COLUMN kraken.balances_daily.net_change IS 'Sum of amount - fee of the day''s entries (0 on carried-forward days).';
COMMENT ON COLUMN kraken.balances_daily.last_entry_at IS 'Time of the ledger entry the balance comes from (on or before the day).';

CREATE VIEW kraken.trading_daily AS
SELECT (t.time AT TIME ZONE 'UTC')::date AS day, t.account_id, a.name AS account, t.pair,
       count(*) AS trades,
       count(*) FILTER (WHERE t.type = 'buy') AS buys,
       count(*) FILTER (WHERE t.type = 'sell') AS sells,
       sum(t.vol) AS volume,
       coalesce(sum(t.vol) FILTER (WHERE t.type = 'buy'), 0) AS volume_bought,
       coalesce(sum(t.vol) FILTER (WHERE t.type = 'sell'), 0) AS volume_sold,
       sum(t.cost) AS cost,
       sum(t.fee) AS fees,
       sum(t.cost) / nullif(sum(t.vol), 0) AS avg_price,
       min(t.time) AS first_trade_at,
       max(t.time) AS last_trade_at
  FROM audit.trades t
  JOIN audit.accounts a ON a.id = t.account_id
 GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW kraken.trading_daily IS 'Trading per account, pair and UTC day: count, volume, cost and fees of the executed trades.';
COMMENT ON COLUMN kraken.trading_daily.day IS 'UTC calendar day of the trades.';
COMMENT ON COLUMN kraken.trading_daily.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.trading_daily.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.trading_daily.pair IS 'Kraken pair key.';
COMMENT ON COLUMN kraken.trading_daily.trades IS 'Number of trades (fills).';
COMMENT ON COLUMN kraken.trading_daily.buys IS 'Number of buy trades.';
COMMENT ON COLUMN kraken.trading_daily.sells IS 'Number of sell trades.';
COMMENT ON COLUMN kraken.trading_daily.volume IS 'Volume traded, in the base asset (buys + sells).';
COMMENT ON COLUMN kraken.trading_daily.volume_bought IS 'Volume bought, in the base asset.';
COMMENT ON COLUMN kraken.trading_daily.volume_sold IS 'Volume sold, in the base asset.';
COMMENT ON COLUMN kraken.trading_daily.cost IS 'Total cost, in the quote asset (buys + sells), before fees.';
COMMENT ON COLUMN kraken.trading_daily.fees IS 'Fees paid, in the quote asset.';
COMMENT ON COLUMN kraken.trading_daily.avg_price IS 'Volume-weighted average price (cost / volume), in the quote asset.';
COMMENT ON COLUMN kraken.trading_daily.first_trade_at IS 'Time of the day''s first trade.';
COMMENT ON COLUMN kraken.trading_daily.last_trade_at IS 'Time of the day''s last trade.';

-- ---------------------------------------------------------------------------------------------------------------
-- Findings
-- ---------------------------------------------------------------------------------------------------------------

CREATE VIEW kraken.findings AS
SELECT f.id AS finding_id, f.rule_id, f.severity,
       CASE f.severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                       WHEN 'critical' THEN 4 END AS severity_rank,
       f.status, f.account_id, a.name AS account, f.entity_type, f.entity_id, f.title, f.evidence,
       coalesce(f.occurred_at, f.first_seen) AS occurred_at,
       f.first_seen, f.last_seen, f.detections, f.api_call_ids,
       f.status_note, f.status_changed_at, f.status_changed_by
  FROM audit.findings f
  LEFT JOIN audit.accounts a ON a.id = f.account_id;
COMMENT ON VIEW kraken.findings IS 'Every finding of the analyser (sql/rules), whatever its status. See kraken.findings_open for the ones needing attention.';
COMMENT ON COLUMN kraken.findings.finding_id IS 'Finding id (kraken-audit findings show/ack/resolve ID).';
COMMENT ON COLUMN kraken.findings.rule_id IS 'Rule that found it (file name in sql/rules, e.g. unexpected_withdrawal).';
COMMENT ON COLUMN kraken.findings.severity IS 'info, low, medium, high or critical.';
COMMENT ON COLUMN kraken.findings.severity_rank IS 'Severity as a number for sorting: info=0, low=1, medium=2, high=3, critical=4.';
COMMENT ON COLUMN kraken.findings.status IS 'open, acknowledged, resolved or suppressed.';
COMMENT ON COLUMN kraken.findings.account_id IS 'Internal account id (NULL for findings about no single account).';
COMMENT ON COLUMN kraken.findings.account IS 'Account name (config label); NULL for findings about no single account.';
COMMENT ON COLUMN kraken.findings.entity_type IS 'What the finding is about: withdrawal, trade, order, ledger, api_key, account, api_calls.';
COMMENT ON COLUMN kraken.findings.entity_id IS 'Id of that entity: withdrawal refid, trade/order txid, ledger id, key fingerprint, ...';
COMMENT ON COLUMN kraken.findings.title IS 'One-line description with amounts, assets and local time.';
COMMENT ON COLUMN kraken.findings.evidence IS 'The rows and numbers the rule compared (JSON written by the rule; no secrets).';
COMMENT ON COLUMN kraken.findings.occurred_at IS 'When the anomaly happened (event time); the detection time when the rule gave none.';
COMMENT ON COLUMN kraken.findings.first_seen IS 'When the analyser first reported it.';
COMMENT ON COLUMN kraken.findings.last_seen IS 'When the analyser last reported it.';
COMMENT ON COLUMN kraken.findings.detections IS 'How many analysis runs reported it.';
COMMENT ON COLUMN kraken.findings.api_call_ids IS 'Ids of kraken.api_calls involved (may be empty).';
COMMENT ON COLUMN kraken.findings.status_note IS 'Note of the last status change (who acknowledged or resolved it, and why).';
COMMENT ON COLUMN kraken.findings.status_changed_at IS 'When the status last changed.';
COMMENT ON COLUMN kraken.findings.status_changed_by IS 'Who changed the status last.';

CREATE VIEW kraken.findings_open AS
SELECT * FROM kraken.findings WHERE status IN ('open', 'acknowledged');
COMMENT ON VIEW kraken.findings_open IS 'Findings still needing attention: status open or acknowledged (resolved and suppressed ones are left out). Same columns as kraken.findings.';
COMMENT ON COLUMN kraken.findings_open.finding_id IS 'Finding id (kraken-audit findings show/ack/resolve ID).';
COMMENT ON COLUMN kraken.findings_open.rule_id IS 'Rule that found it (file name in sql/rules).';
COMMENT ON COLUMN kraken.findings_open.severity IS 'info, low, medium, high or critical.';
COMMENT ON COLUMN kraken.findings_open.severity_rank IS 'Severity as a number for sorting: info=0 ... critical=4.';
COMMENT ON COLUMN kraken.findings_open.status IS 'open or acknowledged.';
COMMENT ON COLUMN kraken.findings_open.account_id IS 'Internal account id (NULL for findings about no single account).';
COMMENT ON COLUMN kraken.findings_open.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.findings_open.entity_type IS 'What the finding is about: withdrawal, trade, order, ledger, api_key, account, api_calls.';
COMMENT ON COLUMN kraken.findings_open.entity_id IS 'Id of that entity.';
COMMENT ON COLUMN kraken.findings_open.title IS 'One-line description.';
COMMENT ON COLUMN kraken.findings_open.evidence IS 'The rows and numbers the rule compared (JSON).';
COMMENT ON COLUMN kraken.findings_open.occurred_at IS 'When the anomaly happened (detection time when the rule gave none).';
COMMENT ON COLUMN kraken.findings_open.first_seen IS 'When the analyser first reported it.';
COMMENT ON COLUMN kraken.findings_open.last_seen IS 'When the analyser last reported it.';
COMMENT ON COLUMN kraken.findings_open.detections IS 'How many analysis runs reported it.';
COMMENT ON COLUMN kraken.findings_open.api_call_ids IS 'Ids of kraken.api_calls involved.';
COMMENT ON COLUMN kraken.findings_open.status_note IS 'Note of the last status change.';
COMMENT ON COLUMN kraken.findings_open.status_changed_at IS 'When the status last changed.';
COMMENT ON COLUMN kraken.findings_open.status_changed_by IS 'Who changed the status last.';

-- ---------------------------------------------------------------------------------------------------------------
-- API usage and collection health
-- ---------------------------------------------------------------------------------------------------------------

CREATE VIEW kraken.api_calls AS
SELECT c.id AS call_id, c.started_at, c.account_id, a.name AS account, c.key_fingerprint, k.name AS key_name,
       c.endpoint, c.nonce, c.http_status, c.error_kind, c.errors, c.retry, c.duration_ms, c.bytes,
       c.counter_after, c.run_id
  FROM audit.api_calls c
  LEFT JOIN audit.accounts a ON a.id = c.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = c.key_fingerprint;
COMMENT ON VIEW kraken.api_calls IS 'Every HTTP call kraken-audit made to Kraken (the call log), without request parameters.';
COMMENT ON COLUMN kraken.api_calls.call_id IS 'Call id (findings list them in api_call_ids).';
COMMENT ON COLUMN kraken.api_calls.started_at IS 'When the call was sent.';
COMMENT ON COLUMN kraken.api_calls.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.api_calls.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.api_calls.key_fingerprint IS 'Fingerprint of the API key used (sha256:<16 hex> of the public key; never the key or the secret).';
COMMENT ON COLUMN kraken.api_calls.key_name IS 'Name kraken-audit gives the key.';
COMMENT ON COLUMN kraken.api_calls.endpoint IS 'Kraken method called (Ledgers, TradesHistory, WithdrawStatus, ...).';
COMMENT ON COLUMN kraken.api_calls.nonce IS 'Nonce sent (private calls).';
COMMENT ON COLUMN kraken.api_calls.http_status IS 'HTTP status of the response (NULL if none arrived).';
COMMENT ON COLUMN kraken.api_calls.error_kind IS 'NULL for a successful call, else the error class: invalidNonce, permissionDenied, rateLimited, temporaryLockout, invalidKey, invalidSignature, throttled, transient, http, timeout, transport, malformed, ...';
COMMENT ON COLUMN kraken.api_calls.errors IS 'Kraken''s error strings (e.g. EAPI:Invalid nonce) or a short description of an HTTP/transport failure.';
COMMENT ON COLUMN kraken.api_calls.retry IS 'Attempt number: 0 for the first attempt, n for the n-th retry.';
COMMENT ON COLUMN kraken.api_calls.duration_ms IS 'Round-trip time in milliseconds.';
COMMENT ON COLUMN kraken.api_calls.bytes IS 'Size of the response body in bytes.';
COMMENT ON COLUMN kraken.api_calls.counter_after IS 'kraken-audit''s estimate of Kraken''s rate-limit counter for the key after the call.';
COMMENT ON COLUMN kraken.api_calls.run_id IS 'Collector run that made the call.';

CREATE VIEW kraken.api_usage_hourly AS
SELECT date_trunc('hour', c.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       c.account_id, a.name AS account, c.key_fingerprint, k.name AS key_name, c.endpoint,
       count(*) AS calls,
       count(*) FILTER (WHERE c.error_kind IS NULL) AS ok_calls,
       count(*) FILTER (WHERE c.error_kind IS NOT NULL) AS errors,
       count(*) FILTER (WHERE c.error_kind = 'invalidNonce') AS nonce_errors,
       count(*) FILTER (WHERE c.error_kind IN ('rateLimited', 'throttled', 'temporaryLockout')) AS rate_limit_errors,
       count(*) FILTER (WHERE c.error_kind IN ('permissionDenied', 'invalidKey', 'invalidSignature', 'accountProblem')) AS auth_errors,
       count(*) FILTER (WHERE c.error_kind IN ('http', 'timeout', 'transport', 'transient', 'malformed')) AS transport_errors,
       count(*) FILTER (WHERE c.error_kind IS NOT NULL
                          AND c.error_kind NOT IN ('invalidNonce', 'rateLimited', 'throttled', 'temporaryLockout',
                                                   'permissionDenied', 'invalidKey', 'invalidSignature', 'accountProblem',
                                                   'http', 'timeout', 'transport', 'transient', 'malformed')) AS other_errors,
       coalesce((SELECT jsonb_object_agg(e.kind, e.n)
                   FROM (SELECT x.kind, count(*) AS n FROM unnest(array_agg(c.error_kind)) AS x(kind)
                          WHERE x.kind IS NOT NULL GROUP BY x.kind) e), '{}'::jsonb) AS errors_by_kind,
       count(*) FILTER (WHERE c.retry > 0) AS retries,
       avg(c.duration_ms) AS avg_duration_ms,
       max(c.duration_ms) AS max_duration_ms,
       sum(c.bytes) AS bytes,
       max(c.counter_after) AS max_counter
  FROM audit.api_calls c
  LEFT JOIN audit.accounts a ON a.id = c.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = c.key_fingerprint
 GROUP BY 1, 2, 3, 4, 5, 6;
COMMENT ON VIEW kraken.api_usage_hourly IS 'Calls to Kraken per UTC hour, account, API key and endpoint, with errors by kind.';
COMMENT ON COLUMN kraken.api_usage_hourly.hour IS 'Start of the UTC hour.';
COMMENT ON COLUMN kraken.api_usage_hourly.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.api_usage_hourly.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.api_usage_hourly.key_fingerprint IS 'Fingerprint of the API key (sha256:<16 hex>; never the key or secret).';
COMMENT ON COLUMN kraken.api_usage_hourly.key_name IS 'Name kraken-audit gives the key.';
COMMENT ON COLUMN kraken.api_usage_hourly.endpoint IS 'Kraken method called.';
COMMENT ON COLUMN kraken.api_usage_hourly.calls IS 'Calls made (every attempt, retries included).';
COMMENT ON COLUMN kraken.api_usage_hourly.ok_calls IS 'Calls that succeeded.';
COMMENT ON COLUMN kraken.api_usage_hourly.errors IS 'Calls that failed, any kind (= calls - ok_calls).';
COMMENT ON COLUMN kraken.api_usage_hourly.nonce_errors IS 'EAPI:Invalid nonce errors (another client on the same key, or a clock problem).';
COMMENT ON COLUMN kraken.api_usage_hourly.rate_limit_errors IS 'Rate limit exceeded, throttled and temporary lockout errors.';
COMMENT ON COLUMN kraken.api_usage_hourly.auth_errors IS 'Permission denied, invalid key, invalid signature and account problems.';
COMMENT ON COLUMN kraken.api_usage_hourly.transport_errors IS 'HTTP errors (5xx, Cloudflare), timeouts, transport failures, Kraken unavailable/busy, malformed responses.';
COMMENT ON COLUMN kraken.api_usage_hourly.other_errors IS 'Errors of any other kind (invalid arguments, unknown method, ...).';
COMMENT ON COLUMN kraken.api_usage_hourly.errors_by_kind IS 'Every error kind with its count, e.g. {"http": 2, "invalidNonce": 1}; {} when none.';
COMMENT ON COLUMN kraken.api_usage_hourly.retries IS 'Calls that were retries of an earlier failed attempt.';
COMMENT ON COLUMN kraken.api_usage_hourly.avg_duration_ms IS 'Average round-trip time in milliseconds.';
COMMENT ON COLUMN kraken.api_usage_hourly.max_duration_ms IS 'Longest round-trip time in milliseconds.';
COMMENT ON COLUMN kraken.api_usage_hourly.bytes IS 'Response bytes received.';
COMMENT ON COLUMN kraken.api_usage_hourly.max_counter IS 'Highest estimated rate-limit counter of the key after a call that hour.';

-- Per account and endpoint: what the collector last achieved. An endpoint counts as collected by a run when the
-- run succeeded and its stats list the endpoint; calls tell how recent the endpoint's last answer is even when a
-- run failed later on another endpoint.
CREATE VIEW kraken.collection_health AS
WITH runs AS (
    SELECT r.id, r.account_id, r.started_at, r.finished_at, r.status, r.error, r.stats
      FROM audit.collector_runs r
     WHERE r.account_id IS NOT NULL AND r.command IN ('collect', 'run')
), endpoints AS (
    SELECT DISTINCT account_id, endpoint
      FROM (SELECT c.account_id, c.endpoint FROM audit.api_calls c WHERE c.account_id IS NOT NULL
            UNION
            SELECT r.account_id, e.key FROM runs r CROSS JOIN LATERAL jsonb_object_keys(r.stats) AS e(key)
             WHERE jsonb_typeof(r.stats) = 'object') x
), last_run AS (
    SELECT DISTINCT ON (account_id) account_id, id, started_at, finished_at, status, error
      FROM runs ORDER BY account_id, started_at DESC, id DESC
)
SELECT e.account_id, a.name AS account, e.endpoint,
       s.id AS last_success_run_id,
       s.finished_at AS last_success_at,
       now() - s.finished_at AS freshness,
       round((extract(epoch FROM now() - s.finished_at) / 3600)::numeric, 2) AS freshness_hours,
       (s.stats -> e.endpoint ->> 'inserted')::bigint AS last_success_inserted,
       calls.last_call_at, calls.last_ok_call_at, calls.last_error_at, calls.last_error_kind,
       calls.calls_24h, calls.errors_24h,
       cur.updated_at AS cursor_updated_at,
       lr.id AS last_run_id, lr.started_at AS last_run_started_at, lr.status AS last_run_status,
       lr.error AS last_run_error
  FROM endpoints e
  JOIN audit.accounts a ON a.id = e.account_id
  LEFT JOIN last_run lr ON lr.account_id = e.account_id
  LEFT JOIN LATERAL (
        SELECT r.id, r.finished_at, r.stats FROM runs r
         WHERE r.account_id = e.account_id AND r.status = 'success' AND r.stats ? e.endpoint
         ORDER BY r.finished_at DESC NULLS LAST, r.id DESC LIMIT 1) s ON true
  LEFT JOIN LATERAL (
        SELECT max(c.started_at) AS last_call_at,
               max(c.started_at) FILTER (WHERE c.error_kind IS NULL) AS last_ok_call_at,
               max(c.started_at) FILTER (WHERE c.error_kind IS NOT NULL) AS last_error_at,
               (array_agg(c.error_kind ORDER BY c.started_at DESC, c.id DESC) FILTER (WHERE c.error_kind IS NOT NULL))[1] AS last_error_kind,
               count(*) FILTER (WHERE c.started_at > now() - interval '24 hours') AS calls_24h,
               count(*) FILTER (WHERE c.started_at > now() - interval '24 hours' AND c.error_kind IS NOT NULL) AS errors_24h
          FROM audit.api_calls c
         WHERE c.account_id = e.account_id AND c.endpoint = e.endpoint) calls ON true
  LEFT JOIN audit.collect_cursors cur ON cur.account_id = e.account_id AND cur.endpoint = e.endpoint;
COMMENT ON VIEW kraken.collection_health IS 'Per account and Kraken endpoint: the last successful collection, how fresh it is, the last calls and errors, and the account''s last run. Stale or failing collection shows here first.';
COMMENT ON COLUMN kraken.collection_health.account_id IS 'Internal account id.';
COMMENT ON COLUMN kraken.collection_health.account IS 'Account name (config label).';
COMMENT ON COLUMN kraken.collection_health.endpoint IS 'Kraken method (Ledgers, TradesHistory, ClosedOrders, WithdrawStatus, ...).';
COMMENT ON COLUMN kraken.collection_health.last_success_run_id IS 'Latest successful collector run that collected this endpoint (NULL if none).';
COMMENT ON COLUMN kraken.collection_health.last_success_at IS 'When that run finished: data up to about this time is complete.';
COMMENT ON COLUMN kraken.collection_health.freshness IS 'now() - last_success_at: age of the data (NULL if never collected successfully).';
COMMENT ON COLUMN kraken.collection_health.freshness_hours IS 'freshness in hours (2 decimals), for thresholds and Grafana.';
COMMENT ON COLUMN kraken.collection_health.last_success_inserted IS 'Rows that run added for this endpoint.';
COMMENT ON COLUMN kraken.collection_health.last_call_at IS 'Latest call to the endpoint, successful or not.';
COMMENT ON COLUMN kraken.collection_health.last_ok_call_at IS 'Latest successful call to the endpoint.';
COMMENT ON COLUMN kraken.collection_health.last_error_at IS 'Latest failed call to the endpoint.';
COMMENT ON COLUMN kraken.collection_health.last_error_kind IS 'Error kind of that failed call (see kraken.api_calls.error_kind).';
COMMENT ON COLUMN kraken.collection_health.calls_24h IS 'Calls to the endpoint in the last 24 hours.';
COMMENT ON COLUMN kraken.collection_health.errors_24h IS 'Failed calls to the endpoint in the last 24 hours.';
COMMENT ON COLUMN kraken.collection_health.cursor_updated_at IS 'When the collector last advanced its paging position for the endpoint (paged endpoints only).';
COMMENT ON COLUMN kraken.collection_health.last_run_id IS 'The account''s latest collector run, whatever its outcome.';
COMMENT ON COLUMN kraken.collection_health.last_run_started_at IS 'When that run started.';
COMMENT ON COLUMN kraken.collection_health.last_run_status IS 'running, success, partial, failed or interrupted.';
COMMENT ON COLUMN kraken.collection_health.last_run_error IS 'Why that run failed (NULL on success).';

-- Internal tables whose names analysts might try first: point them at the views.
COMMENT ON TABLE audit.ledger_entries IS 'Internal (may change with any migration). Analysts: use the view kraken.ledger.';
COMMENT ON TABLE audit.trades IS 'Internal (may change with any migration). Analysts: use the view kraken.trades.';
COMMENT ON TABLE audit.orders IS 'Internal (may change with any migration). Analysts: use the view kraken.orders.';
COMMENT ON TABLE audit.withdrawals IS 'Internal (may change with any migration). Analysts: use the view kraken.withdrawals (address = info, address_name = key).';
COMMENT ON TABLE audit.deposits IS 'Internal (may change with any migration). Analysts: use the view kraken.deposits.';
COMMENT ON TABLE audit.findings IS 'Internal (may change with any migration). Analysts: use the views kraken.findings and kraken.findings_open.';

-- ---------------------------------------------------------------------------------------------------------------
-- Roles (cluster-wide, so created only if missing; NOLOGIN: grant them to login roles, see sql/README.md)
-- ---------------------------------------------------------------------------------------------------------------

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['kraken_audit_reader', 'kraken_audit_writer'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
                EXECUTE format('COMMENT ON ROLE %I IS %L', r, CASE r
                    WHEN 'kraken_audit_reader' THEN 'kraken-audit analysts: SELECT on the views of schema kraken, nothing else (no access to schema audit).'
                    ELSE 'kraken-audit collector/analyser/alerts: read and write the rows of schema audit (no DELETE, no DDL, not owner).' END);
            EXCEPTION
                -- Another database of the same cluster created it concurrently: fine.
                WHEN duplicate_object OR unique_violation THEN NULL;
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'cannot create role % (the migrating user lacks CREATEROLE)', r
                        USING ERRCODE = 'insufficient_privilege',
                              HINT = 'as a superuser run: CREATE ROLE kraken_audit_reader NOLOGIN; CREATE ROLE kraken_audit_writer NOLOGIN; then kraken-audit migrate again';
            END;
        END IF;
    END LOOP;
END
$$;

-- Reader: the views, nothing else. (PUBLIC keeps PostgreSQL's defaults: CONNECT and TEMP on the database.)
GRANT USAGE ON SCHEMA kraken TO kraken_audit_reader, kraken_audit_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA kraken TO kraken_audit_reader, kraken_audit_writer;
-- Views later migrations add to kraken (created by the same migrating user) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA kraken GRANT SELECT ON TABLES TO kraken_audit_reader, kraken_audit_writer;

-- Writer: rows, not structure. SELECT/INSERT/UPDATE (upserts need all three), sequences for serial ids, the
-- collector's functions. No DELETE/TRUNCATE (nothing deletes audit rows), no CREATE on the schema, not owner.
GRANT USAGE ON SCHEMA audit TO kraken_audit_writer;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA audit TO kraken_audit_writer;
REVOKE INSERT, UPDATE ON audit.schema_migrations FROM kraken_audit_writer;  -- migrations run as the owner
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA audit TO kraken_audit_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA audit TO kraken_audit_writer;
-- Functions in audit write (take_call, counter_exceeded): only the owner and the writer may call them.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA audit FROM PUBLIC;
-- Tables, sequences and functions later migrations add to audit are usable by the writer without another grant.
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT, INSERT, UPDATE ON TABLES TO kraken_audit_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT USAGE, SELECT ON SEQUENCES TO kraken_audit_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT EXECUTE ON FUNCTIONS TO kraken_audit_writer;
