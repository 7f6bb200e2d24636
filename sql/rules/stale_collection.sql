-- id: stale_collection
-- title: Collection stale or failing
-- severity: high
-- entity: account
-- input: call_log
-- resolves: when_absent
-- param: max_age_hours integer 26 | A successful collection must have finished within this many hours (nightly runs plus slack).
-- param: commands strings ["run", "collect"] | collector_runs.command values that collect data.
-- catches: an account with no successful collection within max_age_hours (high; also when it was never
--   collected successfully), and collections of the account that keep failing: one finding per cause (the
--   Kraken error code such as EGeneral:Permission denied, else the kind of failure) for the runs that ended
--   failed or interrupted (medium) or partial (low) since the last successful collection, with the number of
--   such runs (occurrences) and the latest run's error. A state check against the analysis time: both kinds
--   are resolved automatically once a collection succeeds (resolves: when_absent).
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
-- Runs that did not succeed since the last successful collection (every run when there was none), with their
-- cause: the first Kraken error code in the error ("Kraken Private/Balance failed: EGeneral:Permission denied
-- (advice)" -> EGeneral:Permission denied), else the kind of failure. The method name and the advice are left
-- out, so the same problem on another endpoint is the same finding.
failed AS (
    SELECT r.*,
           CASE WHEN r.status = 'partial' THEN 'partial' ELSE 'failed' END AS outcome,
           coalesce(substring(r.error FROM 'E[A-Z][A-Za-z]*:[A-Za-z][A-Za-z ]*[A-Za-z]'),
                    CASE WHEN r.status = 'interrupted' THEN 'interrupted' END,
                    'HTTP ' || substring(r.error FROM 'returned HTTP ([0-9]{3})'),
                    CASE WHEN r.error LIKE '%could not be reached%' THEN 'unreachable' END,
                    CASE WHEN r.error LIKE '%malformed response%' THEN 'malformed response' END,
                    'other') AS cause
      FROM audit.collector_runs r
      LEFT JOIN last_ok o ON true
     WHERE r.account_id = :'account_id'::integer AND r.command = ANY (:'commands'::text[])
       AND r.status IN ('failed', 'interrupted', 'partial') AND r.finished_at IS NOT NULL
       AND (o.finished_at IS NULL OR r.finished_at > o.finished_at)
),
failing AS (
    SELECT f.outcome, f.cause, count(*) AS runs, min(f.finished_at) AS first_at, max(f.finished_at) AS last_at,
           (array_agg(f.id ORDER BY f.finished_at DESC, f.id DESC))[1:50] AS run_ids,
           (array_agg(f.status ORDER BY f.finished_at DESC, f.id DESC))[1] AS status,
           (array_agg(jsonb_build_object('run_id', f.id, 'command', f.command, 'status', f.status,
                                         'started_at', f.started_at, 'finished_at', f.finished_at, 'error', f.error,
                                         'stats', f.stats, 'hostname', f.hostname, 'version', f.version)
                      ORDER BY f.finished_at DESC, f.id DESC))[1] AS latest
      FROM failed f
     GROUP BY f.outcome, f.cause
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
       format('stale_collection:%s:stale', :'account_id'::integer) AS dedupe_key,
       :'now'::timestamptz AS occurred_at,
       '{}'::bigint[] AS api_call_ids,
       NULL::integer AS occurrences
  FROM stale s
UNION ALL
SELECT :'account_id'::integer, 'account', a.name,
       CASE WHEN g.outcome = 'partial' THEN 'low' ELSE 'medium' END,
       format('Collection of account %s %s %s time%s since %s (latest run %s, %s, at %s %s): %s', a.name,
              CASE g.outcome WHEN 'partial' THEN 'finished partially' ELSE 'failed' END,
              g.runs, CASE WHEN g.runs = 1 THEN '' ELSE 's' END,
              coalesce('the last success ' || to_char(o.finished_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI')
                       || ' ' || :'timezone'::text,
                       'it was first collected'),
              g.latest->>'run_id', g.latest->>'command',
              to_char(g.last_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text,
              coalesce(g.latest->>'error', 'no error recorded')),
       jsonb_build_object('account', a.name, 'cause', g.cause, 'outcome', g.outcome, 'runs', g.runs,
                          'first_failed_at', g.first_at, 'last_failed_at', g.last_at, 'run_ids', to_jsonb(g.run_ids),
                          'last_success_run_id', o.id, 'last_success_at', o.finished_at,
                          'checked_at', :'now'::timestamptz, 'latest_run', g.latest),
       format('stale_collection:%s:%s:%s', :'account_id'::integer, g.outcome, g.cause),
       g.last_at,
       coalesce((SELECT array_agg(c.id ORDER BY c.id) FROM (SELECT c.id FROM audit.api_calls c
                  WHERE c.account_id = :'account_id'::integer AND c.run_id = (g.latest->>'run_id')::bigint AND cardinality(c.errors) > 0
                  ORDER BY c.id DESC LIMIT 20) c), '{}'),
       g.runs::integer
  FROM failing g
  JOIN account a ON true
  LEFT JOIN last_ok o ON true;
