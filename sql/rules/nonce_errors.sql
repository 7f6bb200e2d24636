-- id: nonce_errors
-- title: Invalid nonce errors on an API key
-- severity: high
-- entity: api_key
-- input: call_log
-- param: window_minutes positive_integer 60 | Length of the fixed time windows (aligned to the Unix epoch) in which errors are counted, per key.
-- param: min_errors positive_integer 2 | EAPI:Invalid nonce responses in one window that make a finding.
-- catches: repeated `EAPI:Invalid nonce` responses for one API key in one window. kraken-audit's nonces only go
--   up (audit.api_keys.last_nonce), so repeats mean a second client uses the key with larger nonces (a leaked
--   or shared key) or a nonce of a larger scale was used once and poisons every later call. The collector
--   retries a rejected call once with a fresh, larger nonce and then stops the account, so one nightly run
--   logs at most two: a threshold above 2 would only fire when someone re-runs the collection within the
--   window. Evidence: the calls with their nonces and the highest nonce Kraken accepted before them. One
--   finding per key: a later window with errors updates it (last_seen, occurrences, the latest window's
--   evidence) and reopens it when it was resolved.
-- false positives: one isolated error (below min_errors), e.g. a nonce store restored from an old backup once;
--   two kraken-audit processes racing on one key before the shared nonce store existed.
WITH touched AS (
    -- Windows that received new failing calls since the last analysis.
    SELECT DISTINCT c.key_fingerprint,
           date_bin(make_interval(mins => :'window_minutes'::integer), c.started_at, timestamptz '1970-01-01 00:00:00+00') AS bucket
      FROM audit.api_calls c
     WHERE c.account_id = :'account_id'::integer AND cardinality(c.errors) > 0
       AND c.started_at > :'changed_after'::timestamptz AND c.started_at >= :'occurred_after'::timestamptz
       AND EXISTS (SELECT 1 FROM unnest(c.errors) e WHERE e LIKE 'EAPI:Invalid nonce%')
),
calls AS (
    SELECT t.key_fingerprint, t.bucket, c.id, c.endpoint, c.nonce, c.started_at, c.errors, c.http_status, c.run_id
      FROM touched t
      JOIN audit.api_calls c
        ON c.account_id = :'account_id'::integer AND c.key_fingerprint IS NOT DISTINCT FROM t.key_fingerprint
       AND cardinality(c.errors) > 0
       AND c.started_at >= t.bucket AND c.started_at < t.bucket + make_interval(mins => :'window_minutes'::integer)
     WHERE EXISTS (SELECT 1 FROM unnest(c.errors) e WHERE e LIKE 'EAPI:Invalid nonce%')
),
grouped AS (
    SELECT key_fingerprint, bucket, count(*) AS n, min(started_at) AS first_at, max(started_at) AS last_at,
           min(nonce) AS min_nonce, max(nonce) AS max_nonce, array_agg(id ORDER BY started_at, id) AS ids,
           array_agg(DISTINCT endpoint) AS endpoints,
           jsonb_agg(jsonb_build_object('id', id, 'endpoint', endpoint, 'nonce', nonce::text, 'started_at', started_at,
                                        'errors', to_jsonb(errors), 'http_status', http_status, 'run_id', run_id)
                     ORDER BY started_at, id) AS call_rows
      FROM calls
     GROUP BY key_fingerprint, bucket
    HAVING count(*) >= :'min_errors'::integer
)
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       coalesce(g.key_fingerprint, 'unknown') AS entity_id,
       'high' AS severity,
       format('%s EAPI:Invalid nonce errors on key %s between %s and %s %s: another client may be using this key',
              g.n, coalesce(k.name || ' ' || g.key_fingerprint, g.key_fingerprint, '(unknown key)'),
              to_char(g.first_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'),
              to_char(g.last_at AT TIME ZONE :'timezone'::text, 'HH24:MI'), :'timezone'::text) AS title,
       jsonb_build_object(
           'key_fingerprint', g.key_fingerprint, 'key_name', k.name,
           'window_start', g.bucket, 'window_minutes', :'window_minutes'::integer,
           'errors', g.n, 'min_errors', :'min_errors'::integer,
           'first_error_at', g.first_at, 'last_error_at', g.last_at,
           'failed_nonce_min', g.min_nonce::text, 'failed_nonce_max', g.max_nonce::text,
           'last_accepted_nonce_before', ok.nonce::text, 'last_accepted_at', ok.started_at,
           'stored_last_nonce', k.last_nonce::text,
           'endpoints', to_jsonb(g.endpoints),
           'calls', CASE WHEN jsonb_array_length(g.call_rows) > 50
                         THEN jsonb_path_query_array(g.call_rows, '$[0 to 49]') ELSE g.call_rows END) AS evidence,
       -- One finding per key, not per window: a second client on the key fails night after night.
       format('nonce_errors:%s:%s', :'account_id'::integer, coalesce(g.key_fingerprint, 'unknown')) AS dedupe_key,
       g.last_at AS occurred_at,
       g.ids AS api_call_ids
  FROM grouped g
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = g.key_fingerprint AND k.account_id = :'account_id'::integer
  LEFT JOIN LATERAL (
        SELECT c.nonce, c.started_at FROM audit.api_calls c
         WHERE c.account_id = :'account_id'::integer AND c.key_fingerprint IS NOT DISTINCT FROM g.key_fingerprint
           AND c.started_at < g.first_at AND cardinality(c.errors) = 0 AND c.nonce IS NOT NULL
         ORDER BY c.started_at DESC LIMIT 1) ok ON true;
