-- id: key_posture
-- title: API key settings weaker than an audit key's should be
-- severity: high
-- entity: api_key
-- input: call_log
-- resolves: when_absent
-- param: max_nonce_window integer 0 | Largest acceptable nonce window (nonce units; kraken-audit serialises its calls per key and needs none).
-- param: expires_within_days integer 14 | Report a key that expires within this many days (or has expired).
-- param: active_within_days integer 14 | Only keys whose settings were read (GetApiKeyInfo) within this many days count (a replaced key is not reported).
-- catches: the key's latest GetApiKeyInfo answer (audit.api_key_snapshots, read on every collection run) shows
--   a weakness, one finding per key and condition: no IP allowlist (medium: anyone holding key and secret can use
--   it from anywhere); any permission beyond the read-only set (high: withdraw-funds, add-withdraw-address,
--   update-withdraw-address, modify-trades, close-trades, add-funds, earn-funds: a leaked audit key could move
--   money or trade; create-ws-token, the WebSocket interface `watch` needs, is read-only here: its streams carry
--   what the query permissions show); a nonce window above max_nonce_window (low: lets nonces below the highest through, so a
--   second client can share the key unnoticed); expiry within expires_within_days (medium: the nightly run
--   stops when it expires). The title and evidence say which Kraken setting to change. A finding is reported
--   again by each analysis while the condition holds (occurred_at = the check time, so "resolve" while it still
--   holds reopens it), and the analyser resolves it by itself once the setting is fixed (resolves: when_absent).
-- false positives: a key deliberately used from changing addresses (no allowlist possible); a nonce window
--   set on purpose (raise max_nonce_window).
WITH latest AS (
    SELECT DISTINCT ON (s.key_fingerprint) s.*
      FROM audit.api_key_snapshots s
     WHERE s.account_id = :'account_id'::integer
       AND s.observed_at >= :'now'::timestamptz - make_interval(days => :'active_within_days'::integer)
     ORDER BY s.key_fingerprint, s.observed_at DESC, s.id DESC
),
conditions AS (
    SELECT l.*, c.condition, c.severity, c.problem, c.fix, c.detail
      FROM latest l
     CROSS JOIN LATERAL (
        SELECT 'no_ip_allowlist' AS condition, 'medium' AS severity,
               'has no IP allowlist: anyone with the key and secret can use it from anywhere' AS problem,
               'on Kraken, Settings > API > edit the key > IP allowlist (Key restrictions): enter the public address(es) kraken-audit runs from' AS fix,
               jsonb_build_object('ip_allowlist', to_jsonb(l.ip_allowlist)) AS detail
         WHERE cardinality(l.ip_allowlist) = 0
        UNION ALL
        SELECT 'excess_permissions', 'high',
               format('holds permission(s) beyond read-only: %s', array_to_string(x.extra, ', ')),
               format('on Kraken, Settings > API > edit the key > Key permissions: untick %s (or create a new key with only query-funds, query-open-trades, query-closed-trades, query-ledger, export-data (and create-ws-token for watch) and delete this one)', array_to_string(x.extra, ', ')),
               jsonb_build_object('permissions', to_jsonb(l.permissions), 'beyond_read_only', to_jsonb(x.extra))
          FROM (SELECT array_agg(p ORDER BY p) AS extra
                  FROM unnest(l.permissions) p
                 WHERE p IN ('withdraw-funds', 'add-withdraw-address', 'update-withdraw-address', 'modify-trades',
                             'close-trades', 'add-funds', 'earn-funds')) x
         WHERE x.extra IS NOT NULL
        UNION ALL
        SELECT 'nonce_window', 'low',
               format('has a nonce window of %s (at most %s expected)', l.nonce_window, :'max_nonce_window'::integer),
               'on Kraken, Settings > API > edit the key > Nonce window (Advanced): set it to 0',
               jsonb_build_object('nonce_window', l.nonce_window, 'max_nonce_window', :'max_nonce_window'::integer)
         WHERE l.nonce_window > :'max_nonce_window'::integer
        UNION ALL
        SELECT 'expires_soon', 'medium',
               CASE WHEN l.valid_until <= :'now'::timestamptz
                    THEN format('expired on %s', to_char(l.valid_until AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'))
                    ELSE format('expires on %s %s', to_char(l.valid_until AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text) END,
               'on Kraken, Settings > API > edit the key > Key expiration (Advanced): extend it, or create a new key and switch the config to it before then',
               jsonb_build_object('valid_until', l.valid_until, 'expires_within_days', :'expires_within_days'::integer)
         WHERE l.valid_until IS NOT NULL
           AND l.valid_until <= :'now'::timestamptz + make_interval(days => :'expires_within_days'::integer)
     ) c
)
SELECT :'account_id'::integer AS account_id,
       'api_key' AS entity_type,
       c.key_fingerprint AS entity_id,
       c.severity,
       format('API key %s (%s) %s; fix: %s', coalesce(k.name, c.key_name, '?'), c.key_fingerprint, c.problem, c.fix) AS title,
       jsonb_build_object('key_fingerprint', c.key_fingerprint, 'key_name', k.name, 'kraken_key_name', c.key_name,
                          'condition', c.condition, 'fix', c.fix, 'snapshot_id', c.id, 'observed_at', c.observed_at,
                          'modified_time', c.modified_time, 'checked_at', :'now'::timestamptz) || c.detail AS evidence,
       format('key_posture:%s:%s:%s', :'account_id'::integer, c.key_fingerprint, c.condition) AS dedupe_key,
       :'now'::timestamptz AS occurred_at,
       CASE WHEN c.api_call_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[c.api_call_id] END AS api_call_ids
  FROM conditions c
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = c.key_fingerprint AND k.account_id = :'account_id'::integer;
