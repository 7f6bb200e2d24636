-- id: api_error_burst
-- title: Burst of authentication or rate-limit errors
-- severity: high
-- entity: api_key
-- input: call_log
-- param: window_minutes positive_integer 60 | Length of the fixed time windows (aligned to the Unix epoch) in which errors are counted, per key.
-- param: min_errors positive_integer 3 | Errors of these kinds in one window needed for a finding.
-- param: baseline_days positive_integer 7 | Days before the window whose average per-window error count is the baseline.
-- param: baseline_factor number 3 | The window's count must also exceed this many times the baseline.
-- catches: bursts of `EAPI:Invalid key`, `EAPI:Invalid signature`, `EGeneral:Permission denied`,
--   `EGeneral:Temporary lockout`, `EAuth:*` (high) or rate-limit errors `EAPI:Rate limit exceeded`,
--   `EGeneral:Too many requests`, `EService:Throttled` (medium when only these) for one API key, above the
--   key's own baseline: a leaked key used elsewhere (it shares Kraken's call counter), a revoked or
--   misconfigured key. Evidence: counts per error, the baseline, the calls. One finding per key and kind
--   (authentication, rate limit): a later burst updates it (last_seen, occurrences, the latest window's
--   evidence) and reopens it when it was resolved, instead of adding a finding per window.
-- false positives: a key edited on Kraken (permissions removed) during a run; an outage of Kraken's auth
--   service. Invalid nonce errors have their own rule (nonce_errors).
WITH touched AS (
    SELECT DISTINCT c.key_fingerprint,
           date_bin(make_interval(mins => :'window_minutes'::integer), c.started_at, timestamptz '1970-01-01 00:00:00+00') AS bucket
      FROM audit.api_calls c
     WHERE c.account_id = :'account_id'::integer AND cardinality(c.errors) > 0
       AND c.started_at > :'changed_after'::timestamptz AND c.started_at >= :'occurred_after'::timestamptz
),
classified AS (
    SELECT t.key_fingerprint, t.bucket, c.id, c.endpoint, c.started_at, c.errors, c.http_status,
           CASE WHEN EXISTS (SELECT 1 FROM unnest(c.errors) e
                              WHERE e LIKE 'EAPI:Invalid key%' OR e LIKE 'EAPI:Invalid signature%'
                                 OR e LIKE 'EGeneral:Permission denied%' OR e LIKE 'EGeneral:Temporary lockout%'
                                 OR e LIKE 'EAuth:%' OR e LIKE 'EAccount:Invalid permissions%')
                THEN 'auth'
                WHEN EXISTS (SELECT 1 FROM unnest(c.errors) e
                              WHERE e LIKE 'EAPI:Rate limit exceeded%' OR e LIKE 'EGeneral:Too many requests%'
                                 OR e LIKE 'EService:Throttled%' OR e LIKE 'EService: Throttled%')
                THEN 'rate' END AS kind
      FROM touched t
      JOIN audit.api_calls c
        ON c.account_id = :'account_id'::integer AND c.key_fingerprint IS NOT DISTINCT FROM t.key_fingerprint
       AND cardinality(c.errors) > 0
       AND c.started_at >= t.bucket AND c.started_at < t.bucket + make_interval(mins => :'window_minutes'::integer)
),
grouped AS (
    SELECT key_fingerprint, bucket, count(*) AS n, count(*) FILTER (WHERE kind = 'auth') AS n_auth,
           min(started_at) AS first_at, max(started_at) AS last_at,
           array_agg(id ORDER BY started_at, id) AS ids,
           jsonb_agg(jsonb_build_object('id', id, 'endpoint', endpoint, 'started_at', started_at,
                                        'errors', to_jsonb(errors), 'http_status', http_status)
                     ORDER BY started_at, id) AS call_rows
      FROM classified
     WHERE kind IS NOT NULL
     GROUP BY key_fingerprint, bucket
    HAVING count(*) >= :'min_errors'::integer
),
per_error AS (
    SELECT c.key_fingerprint, c.bucket, jsonb_object_agg(e.err, e.n) AS counts
      FROM (SELECT key_fingerprint, bucket, split_part(err, ':', 1) || ':' || split_part(err, ':', 2) AS err,
                   count(*) AS n
              FROM classified, unnest(errors) err
             WHERE kind IS NOT NULL
             GROUP BY 1, 2, 3) e
      JOIN (SELECT DISTINCT key_fingerprint, bucket FROM grouped) c USING (key_fingerprint, bucket)
     GROUP BY c.key_fingerprint, c.bucket
),
baseline AS (
    SELECT g.key_fingerprint, g.bucket, g.n, g.n_auth, g.first_at, g.last_at, g.ids, g.call_rows,
           b.n_before,
           b.n_before::numeric / ((:'baseline_days'::integer * 1440) / :'window_minutes'::integer) AS per_window
      FROM grouped g,
      LATERAL (
            SELECT count(*) AS n_before
              FROM audit.api_calls c
             WHERE c.account_id = :'account_id'::integer AND c.key_fingerprint IS NOT DISTINCT FROM g.key_fingerprint
               AND cardinality(c.errors) > 0
               AND c.started_at >= g.bucket - make_interval(days => :'baseline_days'::integer)
               AND c.started_at < g.bucket
               AND EXISTS (SELECT 1 FROM unnest(c.errors) e
                            WHERE e LIKE 'EAPI:Invalid key%' OR e LIKE 'EAPI:Invalid signature%'
                               OR e LIKE 'EGeneral:Permission denied%' OR e LIKE 'EGeneral:Temporary lockout%'
                               OR e LIKE 'EAuth:%' OR e LIKE 'EAccount:Invalid permissions%'
                               OR e LIKE 'EAPI:Rate limit exceeded%' OR e LIKE 'EGeneral:Too many requests%'
                               OR e LIKE 'EService:Throttled%' OR e LIKE 'EService: Throttled%')
      ) b
)
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       coalesce(b.key_fingerprint, 'unknown') AS entity_id,
       CASE WHEN b.n_auth > 0 THEN 'high' ELSE 'medium' END AS severity,
       format('%s %s errors on key %s between %s and %s %s (baseline %s per %s min)',
              b.n, CASE WHEN b.n_auth > 0 THEN 'authentication' ELSE 'rate-limit' END,
              coalesce(k.name || ' ' || b.key_fingerprint, b.key_fingerprint, '(unknown key)'),
              to_char(b.first_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'),
              to_char(b.last_at AT TIME ZONE :'timezone'::text, 'HH24:MI'), :'timezone'::text,
              round(b.per_window, 2), :'window_minutes'::integer) AS title,
       jsonb_build_object(
           'key_fingerprint', b.key_fingerprint, 'key_name', k.name,
           'window_start', b.bucket, 'window_minutes', :'window_minutes'::integer,
           'errors', b.n, 'auth_errors', b.n_auth, 'rate_limit_errors', b.n - b.n_auth,
           'by_error', pe.counts, 'min_errors', :'min_errors'::integer,
           'baseline_days', :'baseline_days'::integer, 'baseline_errors', b.n_before,
           'baseline_per_window', round(b.per_window, 4), 'baseline_factor', :'baseline_factor'::numeric,
           'first_error_at', b.first_at, 'last_error_at', b.last_at,
           'calls', CASE WHEN jsonb_array_length(b.call_rows) > 50
                         THEN jsonb_path_query_array(b.call_rows, '$[0 to 49]') ELSE b.call_rows END) AS evidence,
       -- One finding per key and kind, not per window: a key that keeps failing the same way is one problem.
       format('api_error_burst:%s:%s:%s', :'account_id'::integer, coalesce(b.key_fingerprint, 'unknown'),
              CASE WHEN b.n_auth > 0 THEN 'auth' ELSE 'rate_limit' END) AS dedupe_key,
       b.last_at AS occurred_at,
       b.ids AS api_call_ids
  FROM baseline b
  LEFT JOIN per_error pe USING (key_fingerprint, bucket)
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = b.key_fingerprint AND k.account_id = :'account_id'::integer
 WHERE b.n > :'baseline_factor'::numeric * b.per_window;
