-- id: stale_collection
-- title: Collection stale or failed
-- severity: high
-- entity: account
-- input: call_log
-- param: max_age_hours integer 26 | A successful collection must have finished within this many hours (nightly runs plus slack).
-- param: commands strings ["run", "collect"] | collector_runs.command values that collect data.
-- catches: an account with no successful collection within max_age_hours (high; also when it was never
--   collected successfully), and each collection run for the account that ended failed or interrupted
--   (medium) or partial (low). Evaluated against the analysis time, not incrementally.
-- false positives: a planned pause of the nightly job; a run still in progress longer than max_age_hours.
WITH last_ok AS (
    SELECT r.id, r.finished_at, r.started_at FROM audit.collector_runs r
     WHERE r.account_id = :'account_id'::integer AND r.status = 'success' AND r.finished_at IS NOT NULL
       AND r.command = ANY (:'commands'::text[])
     ORDER BY r.finished_at DESC LIMIT 1
),
account AS (
    SELECT a.id, a.name, a.created_at FROM audit.accounts a WHERE a.id = :'account_id'::integer
),
stale AS (
    SELECT a.name, a.created_at, o.id AS last_ok_id, o.finished_at AS last_ok_at,
           (SELECT jsonb_build_object('id', r.id, 'command', r.command, 'status', r.status, 'started_at', r.started_at,
                                      'finished_at', r.finished_at, 'error', r.error)
              FROM audit.collector_runs r
             WHERE r.account_id = a.id AND r.command = ANY (:'commands'::text[])
             ORDER BY r.started_at DESC LIMIT 1) AS latest_run
      FROM account a LEFT JOIN last_ok o ON true
     WHERE coalesce(o.finished_at, a.created_at) < :'now'::timestamptz - make_interval(hours => :'max_age_hours'::integer)
),
failed AS (
    SELECT r.* FROM audit.collector_runs r
     WHERE r.account_id = :'account_id'::integer AND r.command = ANY (:'commands'::text[])
       AND r.status IN ('failed', 'interrupted', 'partial') AND r.finished_at IS NOT NULL
       AND r.finished_at > :'changed_after'::timestamptz AND r.finished_at >= :'occurred_after'::timestamptz
)
SELECT :'account_id'::integer AS account_id, 'account' AS entity_type, s.name AS entity_id, 'high' AS severity,
       CASE WHEN s.last_ok_at IS NULL
            THEN format('No successful collection for account %s yet (configured since %s %s)', s.name,
                        to_char(s.created_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text)
            ELSE format('No successful collection for account %s for %s h (last success %s %s, expected every %s h)',
                        s.name, floor(extract(epoch FROM :'now'::timestamptz - s.last_ok_at) / 3600),
                        to_char(s.last_ok_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text,
                        :'max_age_hours'::integer) END AS title,
       jsonb_build_object('account', s.name, 'last_success_run_id', s.last_ok_id, 'last_success_at', s.last_ok_at,
                          'checked_at', :'now'::timestamptz, 'max_age_hours', :'max_age_hours'::integer,
                          'hours_since_success', round(extract(epoch FROM :'now'::timestamptz - coalesce(s.last_ok_at, s.created_at)) / 3600, 1),
                          'latest_run', s.latest_run) AS evidence,
       format('stale_collection:%s:since:%s', :'account_id'::integer, coalesce(s.last_ok_id::text, 'never')) AS dedupe_key,
       :'now'::timestamptz AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM stale s
UNION ALL
SELECT :'account_id'::integer, 'collector_run', f.id::text,
       CASE WHEN f.status = 'partial' THEN 'low' ELSE 'medium' END,
       format('Collection run %s (%s) %s at %s %s: %s', f.id, f.command,
              CASE f.status WHEN 'partial' THEN 'finished partially' ELSE f.status END,
              to_char(f.finished_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text,
              coalesce(f.error, 'no error recorded')),
       jsonb_build_object('run_id', f.id, 'command', f.command, 'status', f.status, 'started_at', f.started_at,
                          'finished_at', f.finished_at, 'error', f.error, 'stats', f.stats, 'hostname', f.hostname,
                          'version', f.version),
       format('stale_collection:%s:run:%s', :'account_id'::integer, f.id),
       f.finished_at,
       coalesce((SELECT array_agg(c.id ORDER BY c.id) FROM (SELECT c.id FROM audit.api_calls c
                  WHERE c.run_id = f.id AND cardinality(c.errors) > 0 ORDER BY c.id DESC LIMIT 20) c), '{}')
  FROM failed f;
