-- id: off_hours_trading
-- title: Trading or withdrawal outside business hours
-- severity: medium
-- entity: order
-- input: collected
-- param: timezone timezone "account" | IANA time zone of the business hours ("account" = the account's timezone).
-- param: business_hours hours_range "08:00-18:00" | Local time range (start inclusive, end exclusive) in which trading is expected.
-- param: business_days weekdays "Mon-Fri" | Local days on which trading is expected.
-- param: holidays dates [] | Local dates without business hours, e.g. ["2026-12-25", "2026-12-26"].
-- param: withdrawal_severity severity "medium" | Severity of a withdrawal outside business hours ("off": judge orders and trades only).
-- catches: orders placed (opentm) outside business hours, on a non-business day or on a holiday, in the
--   configured IANA time zone with its daylight-saving rules (PostgreSQL AT TIME ZONE), and trades whose
--   order is not in audit.orders judged by the trade's own time. A resting order placed in business hours
--   that fills at night is not reported (its placement was in hours). Withdrawals are judged by the same
--   hours (ledger time, or WithdrawStatus time without a ledger entry): an account taker pays out while nobody
--   watches, and `unexpected_withdrawal` judges only where the money goes and how much, not when. One finding
--   per order (or trade, or withdrawal refid).
-- false positives: automated strategies or conditional orders (stop-loss) triggered by the market; traders
--   in another time zone (set timezone per account); orders placed by Kraken itself (settle-position);
--   scheduled payouts outside the hours (set withdrawal_severity = "low" or "off").
WITH params AS (
    SELECT split_part(:'business_hours'::text, '-', 1)::time AS day_start,
           split_part(:'business_hours'::text, '-', 2)::time AS day_end,
           :'business_days'::integer[] AS days, :'holidays'::date[] AS holidays, :'timezone'::text AS tz,
           :'withdrawal_severity'::text AS withdrawal_severity
),
scope AS (
    -- Withdrawal refids changed since the last analysis, in the ledger or in WithdrawStatus.
    SELECT l.refid
      FROM audit.ledger_entries l
     WHERE l.account_id = :'account_id'::integer AND l.type = 'withdrawal' AND l.amount < 0 AND l.refid IS NOT NULL
       AND l.updated_at > :'changed_after'::timestamptz AND l.time >= :'occurred_after'::timestamptz
       AND :'withdrawal_severity'::text <> 'off'
    UNION
    SELECT w.refid
      FROM audit.withdrawals w
     WHERE w.account_id = :'account_id'::integer
       AND w.updated_at > :'changed_after'::timestamptz AND w.time >= :'occurred_after'::timestamptz
       AND :'withdrawal_severity'::text <> 'off'
),
withdrawals AS (
    -- One row per refid, timed by its ledger entry whenever one exists (whichever table changed), else by its
    -- WithdrawStatus record (a pending withdrawal may have no ledger entry yet): incremental and full analyses
    -- then judge the same time.
    SELECT s.refid, coalesce(l.time, w.time) AS time, coalesce(l.asset, w.asset) AS asset,
           coalesce(-l.amount, w.amount) AS amount
      FROM scope s
      LEFT JOIN LATERAL (
            SELECT * FROM audit.ledger_entries l
             WHERE l.account_id = :'account_id'::integer AND l.refid = s.refid AND l.type = 'withdrawal'
               AND l.amount < 0
             ORDER BY l.time LIMIT 1) l ON true
      LEFT JOIN audit.withdrawals w ON w.account_id = :'account_id'::integer AND w.refid = s.refid
),
events AS (
    SELECT 'order' AS entity_type, o.txid AS entity_id, o.opentm AS at, o.descr_pair AS pair,
           o.descr_type AS side, o.descr_ordertype AS ordertype, o.vol::text AS vol, o.descr_order AS what,
           o.status, o.trades AS trades, o.txid AS ordertxid
      FROM audit.orders o
     WHERE o.account_id = :'account_id'::integer AND o.opentm IS NOT NULL
       AND o.updated_at > :'changed_after'::timestamptz AND o.opentm >= :'occurred_after'::timestamptz
    UNION ALL
    SELECT 'trade', t.txid, t.time, t.pair, t.type, t.ordertype, t.vol::text,
           format('%s %s %s @ %s %s', t.type, trim_scale(t.vol), t.pair, t.ordertype, trim_scale(t.price)),
           NULL, ARRAY[t.txid], t.ordertxid
      FROM audit.trades t
     WHERE t.account_id = :'account_id'::integer
       AND t.updated_at > :'changed_after'::timestamptz AND t.time >= :'occurred_after'::timestamptz
       AND NOT EXISTS (SELECT 1 FROM audit.orders o
                        WHERE o.account_id = t.account_id AND o.txid = t.ordertxid AND o.opentm IS NOT NULL)
    UNION ALL
    SELECT 'withdrawal', wd.refid, wd.time, wd.asset, 'withdrawal', NULL, trim_scale(wd.amount)::text,
           format('withdrawal of %s %s to %s', trim_scale(wd.amount), wd.asset,
                  CASE WHEN w.key IS NOT NULL AND w.info IS NOT NULL THEN format('%s (%s)', w.key, w.info)
                       ELSE coalesce(w.key, w.info, 'an unrecorded destination') END),
           w.status, NULL, NULL
      FROM withdrawals wd
      LEFT JOIN audit.withdrawals w ON w.account_id = :'account_id'::integer AND w.refid = wd.refid
),
localised AS (
    SELECT e.*, (e.at AT TIME ZONE p.tz) AS local_at, p.*
      FROM events e CROSS JOIN params p
),
judged AS (
    SELECT l.*,
           CASE WHEN l.local_at::date = ANY (l.holidays) THEN 'on a holiday'
                WHEN NOT (extract(isodow FROM l.local_at)::integer = ANY (l.days)) THEN 'on a ' || trim(to_char(l.local_at, 'Day'))
                WHEN l.local_at::time < l.day_start THEN 'before ' || to_char(l.day_start, 'HH24:MI')
                WHEN l.local_at::time >= l.day_end THEN 'after ' || to_char(l.day_end, 'HH24:MI')
           END AS why
      FROM localised l
)
SELECT :'account_id'::integer AS account_id,
       j.entity_type,
       j.entity_id,
       CASE j.entity_type WHEN 'withdrawal' THEN j.withdrawal_severity ELSE 'medium' END AS severity,
       format('%s %s %s outside business hours (%s): %s, %s %s',
              initcap(j.entity_type), j.entity_id,
              CASE j.entity_type WHEN 'order' THEN 'placed' WHEN 'trade' THEN 'executed' ELSE 'booked' END,
              j.why, coalesce(j.what, j.pair), to_char(j.local_at, 'Dy YYYY-MM-DD HH24:MI'), j.tz) AS title,
       jsonb_build_object(
           'entity', j.entity_type, 'id', j.entity_id, 'ordertxid', j.ordertxid, 'time', j.at,
           'local_time', to_char(j.local_at, 'YYYY-MM-DD HH24:MI:SS'), 'local_weekday', trim(to_char(j.local_at, 'Day')),
           'utc_offset', to_char(j.at AT TIME ZONE j.tz - j.at AT TIME ZONE 'UTC', 'HH24:MI'),
           'timezone', j.tz, 'reason', j.why,
           'business_hours', to_char(j.day_start, 'HH24:MI') || '-' || to_char(j.day_end, 'HH24:MI'),
           'business_days', to_jsonb(j.days), 'holiday', j.local_at::date = ANY (j.holidays),
           'pair', j.pair, 'side', j.side, 'ordertype', j.ordertype, 'vol', j.vol, 'description', j.what,
           'status', j.status, 'trades', to_jsonb(j.trades)) AS evidence,
       format('off_hours_trading:%s:%s:%s', :'account_id'::integer, j.entity_type, j.entity_id) AS dedupe_key,
       j.at AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM judged j
 WHERE j.why IS NOT NULL;
