-- id: key_changed
-- title: API key settings changed on Kraken
-- severity: high
-- entity: api_key
-- input: call_log
-- catches: a GetApiKeyInfo answer (audit.api_key_snapshots, one per collection run) that differs from the key's
--   previous one: Kraken's modifiedTime moved, or the permissions, IP allowlist, nonce window, expiry or query
--   range differ. Someone edited the audit key: widening it to withdraw or trade rights, or removing its IP
--   allowlist, is how an account taker turns a read-only key into a tool. One finding per changed snapshot;
--   evidence is the exact difference (permissions and allowlist entries added and removed, old and new values).
-- false positives: the owner's own edit (acknowledge it); a key re-created under the same public key (Kraken
--   issues a new key string, so this does not happen in practice).
WITH changed AS (
    SELECT s.*, p.id AS prev_id, p.observed_at AS prev_observed_at, p.permissions AS prev_permissions,
           p.ip_allowlist AS prev_ip_allowlist, p.nonce_window AS prev_nonce_window, p.valid_until AS prev_valid_until,
           p.query_from AS prev_query_from, p.query_to AS prev_query_to, p.modified_time AS prev_modified_time
      FROM audit.api_key_snapshots s
      JOIN LATERAL (
            SELECT q.* FROM audit.api_key_snapshots q
             WHERE q.account_id = s.account_id AND q.key_fingerprint = s.key_fingerprint
               AND (q.observed_at, q.id) < (s.observed_at, s.id)
             ORDER BY q.observed_at DESC, q.id DESC LIMIT 1) p ON true
     WHERE s.account_id = :'account_id'::integer
       AND s.observed_at > :'changed_after'::timestamptz AND s.observed_at >= :'occurred_after'::timestamptz
),
diff AS (
    SELECT c.*,
           ARRAY(SELECT x FROM unnest(c.permissions) x EXCEPT SELECT y FROM unnest(c.prev_permissions) y ORDER BY 1) AS perm_added,
           ARRAY(SELECT y FROM unnest(c.prev_permissions) y EXCEPT SELECT x FROM unnest(c.permissions) x ORDER BY 1) AS perm_removed,
           ARRAY(SELECT x FROM unnest(c.ip_allowlist) x EXCEPT SELECT y FROM unnest(c.prev_ip_allowlist) y ORDER BY 1) AS ip_added,
           ARRAY(SELECT y FROM unnest(c.prev_ip_allowlist) y EXCEPT SELECT x FROM unnest(c.ip_allowlist) x ORDER BY 1) AS ip_removed
      FROM changed c
),
described AS (
    SELECT d.*,
           jsonb_strip_nulls(jsonb_build_object(
               'permissions', CASE WHEN cardinality(d.perm_added) + cardinality(d.perm_removed) > 0
                                   THEN jsonb_build_object('added', to_jsonb(d.perm_added), 'removed', to_jsonb(d.perm_removed),
                                                           'before', to_jsonb(d.prev_permissions), 'after', to_jsonb(d.permissions)) END,
               'ip_allowlist', CASE WHEN cardinality(d.ip_added) + cardinality(d.ip_removed) > 0
                                    THEN jsonb_build_object('added', to_jsonb(d.ip_added), 'removed', to_jsonb(d.ip_removed),
                                                            'before', to_jsonb(d.prev_ip_allowlist), 'after', to_jsonb(d.ip_allowlist)) END,
               'nonce_window', CASE WHEN d.nonce_window IS DISTINCT FROM d.prev_nonce_window
                                    THEN jsonb_build_object('before', d.prev_nonce_window, 'after', d.nonce_window) END,
               'valid_until', CASE WHEN d.valid_until IS DISTINCT FROM d.prev_valid_until
                                   THEN jsonb_build_object('before', d.prev_valid_until, 'after', d.valid_until) END,
               'query_from', CASE WHEN d.query_from IS DISTINCT FROM d.prev_query_from
                                  THEN jsonb_build_object('before', d.prev_query_from, 'after', d.query_from) END,
               'query_to', CASE WHEN d.query_to IS DISTINCT FROM d.prev_query_to
                                THEN jsonb_build_object('before', d.prev_query_to, 'after', d.query_to) END,
               'modified_time', CASE WHEN d.modified_time IS DISTINCT FROM d.prev_modified_time
                                     THEN jsonb_build_object('before', d.prev_modified_time, 'after', d.modified_time) END
           )) AS difference,
           concat_ws('; ',
               CASE WHEN cardinality(d.perm_added) > 0 THEN 'permissions added: ' || array_to_string(d.perm_added, ', ') END,
               CASE WHEN cardinality(d.perm_removed) > 0 THEN 'permissions removed: ' || array_to_string(d.perm_removed, ', ') END,
               CASE WHEN cardinality(d.ip_allowlist) = 0 AND cardinality(d.prev_ip_allowlist) > 0 THEN 'IP allowlist removed'
                    WHEN cardinality(d.ip_added) + cardinality(d.ip_removed) > 0
                    THEN 'IP allowlist ' || concat_ws(', ', CASE WHEN cardinality(d.ip_added) > 0 THEN '+' || array_to_string(d.ip_added, ' +') END,
                                                           CASE WHEN cardinality(d.ip_removed) > 0 THEN '-' || array_to_string(d.ip_removed, ' -') END) END,
               CASE WHEN d.nonce_window IS DISTINCT FROM d.prev_nonce_window THEN format('nonce window %s -> %s', d.prev_nonce_window, d.nonce_window) END,
               CASE WHEN d.valid_until IS DISTINCT FROM d.prev_valid_until
                    THEN format('expiry %s -> %s', coalesce(to_char(d.prev_valid_until AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD'), 'never'),
                                coalesce(to_char(d.valid_until AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD'), 'never')) END,
               CASE WHEN d.query_from IS DISTINCT FROM d.prev_query_from OR d.query_to IS DISTINCT FROM d.prev_query_to THEN 'query range changed' END
           ) AS summary
      FROM diff d
)
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       d.key_fingerprint AS entity_id,
       'high' AS severity,
       format('API key %s (%s) was changed on Kraken%s: %s',
              coalesce(k.name, d.key_name, '?'), d.key_fingerprint,
              CASE WHEN d.modified_time IS DISTINCT FROM d.prev_modified_time AND d.modified_time IS NOT NULL
                   THEN ' at ' || to_char(d.modified_time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI') || ' ' || :'timezone'::text
                   ELSE '' END,
              coalesce(nullif(d.summary, ''), 'settings modified (modifiedTime moved)')) AS title,
       jsonb_build_object('key_fingerprint', d.key_fingerprint, 'key_name', k.name, 'kraken_key_name', d.key_name,
                          'difference', d.difference,
                          'snapshot_id', d.id, 'observed_at', d.observed_at,
                          'previous_snapshot_id', d.prev_id, 'previous_observed_at', d.prev_observed_at) AS evidence,
       format('key_changed:%s:%s:%s', :'account_id'::integer, d.key_fingerprint, d.id) AS dedupe_key,
       coalesce(CASE WHEN d.modified_time IS DISTINCT FROM d.prev_modified_time THEN d.modified_time END, d.observed_at) AS occurred_at,
       CASE WHEN d.api_call_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[d.api_call_id] END AS api_call_ids
  FROM described d
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = d.key_fingerprint AND k.account_id = :'account_id'::integer
 WHERE d.difference <> '{}'::jsonb;
