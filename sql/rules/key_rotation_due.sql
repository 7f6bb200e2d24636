-- id: key_rotation_due
-- title: API key due for rotation
-- severity: medium
-- entity: api_key
-- input: call_log
-- resolves: when_absent
-- param: rotate_after_days integer 90 | Maximum age of an API key in days.
-- param: active_within_days integer 14 | Only keys used (or first seen) within this many days count (a replaced key is not reported).
-- catches: an API key in use that is older than rotate_after_days, by key_created (from the account's
--   key_created in the config) or, when unknown, by when kraken-audit first saw it (then the age is a lower
--   bound, said in the title). One finding per key; it reopens daily after "resolve" while the key stays in use,
--   and is resolved automatically once the key is no longer in use (replaced) or its key_created is corrected.
-- false positives: key_created not configured for an old key (its age counts from first use by kraken-audit).
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       k.key_fingerprint AS entity_id,
       'medium' AS severity,
       format('API key %s (%s) is %s%s days old, rotation due after %s days (created %s)',
              k.name, k.key_fingerprint, CASE WHEN k.key_created IS NULL THEN 'at least ' ELSE '' END,
              (:'now'::timestamptz AT TIME ZONE :'timezone'::text)::date - coalesce(k.key_created, (k.first_seen_at AT TIME ZONE :'timezone'::text)::date),
              :'rotate_after_days'::integer,
              coalesce(k.key_created::text, 'unknown, first seen ' || to_char(k.first_seen_at AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD'))) AS title,
       jsonb_build_object('key_fingerprint', k.key_fingerprint, 'key_name', k.name, 'key_created', k.key_created,
                          'first_seen_at', k.first_seen_at, 'last_used_at', k.last_used_at,
                          'age_days', (:'now'::timestamptz AT TIME ZONE :'timezone'::text)::date - coalesce(k.key_created, (k.first_seen_at AT TIME ZONE :'timezone'::text)::date),
                          'age_is_lower_bound', k.key_created IS NULL,
                          'rotate_after_days', :'rotate_after_days'::integer, 'checked_at', :'now'::timestamptz) AS evidence,
       format('key_rotation_due:%s:%s', :'account_id'::integer, k.key_fingerprint) AS dedupe_key,
       :'now'::timestamptz AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM audit.api_keys k
 WHERE k.account_id = :'account_id'::integer
   AND coalesce(k.last_used_at, k.first_seen_at) >= :'now'::timestamptz - make_interval(days => :'active_within_days'::integer)
   AND (:'now'::timestamptz AT TIME ZONE :'timezone'::text)::date - coalesce(k.key_created, (k.first_seen_at AT TIME ZONE :'timezone'::text)::date)
       > :'rotate_after_days'::integer;
