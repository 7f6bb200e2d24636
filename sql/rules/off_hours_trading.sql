-- id: off_hours_trading
-- title: Trading outside business hours
-- severity: medium
-- entity: order
-- input: collected
-- param: timezone timezone "account" | IANA time zone of the business hours ("account" = the account's timezone).
-- param: business_hours hours_range "08:00-18:00" | Local time range (start inclusive, end exclusive) in which trading is expected.
-- param: business_days weekdays "Mon-Fri" | Local days on which trading is expected.
-- param: holidays dates [] | Local dates without business hours, e.g. ["2026-12-25", "2026-12-26"].
-- catches: orders placed (opentm) outside business hours, on a non-business day or on a holiday, in the
--   configured IANA time zone with its daylight-saving rules (PostgreSQL AT TIME ZONE), and trades whose
--   order is not in audit.orders judged by the trade's own time. A resting order placed in business hours
--   that fills at night is not reported (its placement was in hours). One finding per order (or trade).
-- false positives: automated strategies or conditional orders (stop-loss) triggered by the market; traders
--   in another time zone (set timezone per account); orders placed by Kraken itself (settle-position).
WITH params AS (
    SELECT split_part(:'business_hours'::text, '-', 1)::time AS day_start,
           split_part(:'business_hours'::text, '-', 2)::time AS day_end,
           :'business_days'::integer[] AS days, :'holidays'::date[] AS holidays, :'timezone'::text AS tz
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
       'medium' AS severity,
       format('%s %s %s outside business hours (%s): %s, %s %s',
              initcap(j.entity_type), j.entity_id, CASE j.entity_type WHEN 'order' THEN 'placed' ELSE 'executed' END,
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
