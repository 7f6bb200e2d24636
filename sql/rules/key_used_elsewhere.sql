-- id: key_used_elsewhere
-- title: Another client signs with the audit key
-- severity: critical
-- entity: api_key
-- input: call_log
-- param: clock_tolerance_seconds integer 300 | Seconds allowed between Kraken's clock and the database's (and a call's time in flight) when comparing lastUsed with kraken-audit's own calls.
-- catches: evidence in a GetApiKeyInfo answer (audit.api_key_snapshots) that a client other than kraken-audit
--   used the key (a leaked or shared key, ../shared/kraken-api.md §1.4):
--   (1) Kraken's highest `nonce` is above every nonce kraken-audit had taken for the key before that call
--       (audit_nonce_before = audit.api_keys.last_nonce, which counts every kraken-audit process, doctor too) and is
--       not a nonce kraken-audit sent (audit.api_calls);
--   (2) `lastUsed` lies after kraken-audit's own last use before that call (audit_used_before) and before the call
--       itself, each by more than clock_tolerance_seconds.
--   Assumption: Kraken does not document whether `nonce`/`lastUsed` include the request that asks for them. The
--   rule is correct under both readings. If they include it, `nonce` is this call's own nonce (a nonce kraken-audit
--   sent: (1) stays silent) unless a foreign nonce above it was accepted (possible with a nonce window), and
--   `lastUsed` is this call's time ((2) stays silent). If they exclude it, `nonce` and `lastUsed` describe the last
--   request before this one, which is kraken-audit's own unless someone else came in between. So a foreign client
--   is seen whenever the answer makes it observable, and kraken-audit's own calls never look foreign. Not
--   observable: under the including reading without a nonce window, a foreign client using nonces below
--   kraken-audit's next one (then its higher nonces break kraken-audit's calls instead: nonce_errors).
--   A key's first snapshot is skipped: use before kraken-audit owned the key is expected.
-- false positives: two kraken-audit installations (separate databases) sharing one key; restoring the database
--   from an old backup (its last_nonce lags); a Kraken clock far off (raise clock_tolerance_seconds).
WITH snaps AS (
    SELECT s.*, c.started_at AS call_started_at,
           EXISTS (SELECT 1 FROM audit.api_key_snapshots p
                    WHERE p.account_id = s.account_id AND p.key_fingerprint = s.key_fingerprint
                      AND (p.observed_at, p.id) < (s.observed_at, s.id)) AS has_previous
      FROM audit.api_key_snapshots s
      LEFT JOIN audit.api_calls c ON c.id = s.api_call_id AND c.account_id = s.account_id
     WHERE s.account_id = :'account_id'::integer
       AND s.observed_at > :'changed_after'::timestamptz AND s.observed_at >= :'occurred_after'::timestamptz
),
judged AS (
    SELECT s.*,
           (s.nonce IS NOT NULL AND s.audit_nonce_before IS NOT NULL AND s.nonce > s.audit_nonce_before
            AND NOT EXISTS (SELECT 1 FROM audit.api_calls o
                             WHERE o.account_id = s.account_id AND o.key_fingerprint = s.key_fingerprint
                               AND o.started_at >= s.observed_at - interval '1 day' AND o.started_at <= s.observed_at
                               AND o.nonce::numeric = s.nonce)) AS nonce_foreign,
           (s.last_used IS NOT NULL AND s.audit_used_before IS NOT NULL AND s.call_started_at IS NOT NULL
            AND s.last_used > s.audit_used_before + make_interval(secs => :'clock_tolerance_seconds'::integer)
            AND s.last_used < s.call_started_at - make_interval(secs => :'clock_tolerance_seconds'::integer)) AS last_used_foreign
      FROM snaps s
     WHERE s.has_previous
)
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       j.key_fingerprint AS entity_id,
       'critical' AS severity,
       format('API key %s (%s) was used by another client: %s; revoke the key on Kraken (Settings > API), create a new one for kraken-audit only, and review the account''s activity',
              coalesce(k.name, j.key_name, '?'), j.key_fingerprint,
              concat_ws('; ',
                  CASE WHEN j.nonce_foreign THEN format('Kraken''s highest nonce %s is above every nonce kraken-audit had sent (%s)', j.nonce, j.audit_nonce_before) END,
                  CASE WHEN j.last_used_foreign THEN format('Kraken says it was last used %s %s, after kraken-audit''s last use at %s',
                      to_char(j.last_used AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI:SS'), :'timezone'::text,
                      to_char(j.audit_used_before AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI:SS')) END)) AS title,
       jsonb_build_object('key_fingerprint', j.key_fingerprint, 'key_name', k.name,
                          'nonce_above_own', j.nonce_foreign, 'last_used_after_own', j.last_used_foreign,
                          'kraken_nonce', j.nonce::text, 'request_nonce', j.request_nonce::text,
                          'audit_nonce_before', j.audit_nonce_before::text,
                          'kraken_last_used', j.last_used, 'audit_used_before', j.audit_used_before,
                          'call_started_at', j.call_started_at, 'clock_tolerance_seconds', :'clock_tolerance_seconds'::integer,
                          'snapshot_id', j.id, 'observed_at', j.observed_at,
                          'assumption', 'correct whether or not Kraken''s nonce/lastUsed include the GetApiKeyInfo request itself') AS evidence,
       format('key_used_elsewhere:%s:%s:%s', :'account_id'::integer, j.key_fingerprint, j.id) AS dedupe_key,
       CASE WHEN j.last_used_foreign THEN j.last_used ELSE j.observed_at END AS occurred_at,
       CASE WHEN j.api_call_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[j.api_call_id] END AS api_call_ids
  FROM judged j
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = j.key_fingerprint AND k.account_id = :'account_id'::integer
 WHERE j.nonce_foreign OR j.last_used_foreign;
