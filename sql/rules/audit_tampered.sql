-- id: audit_tampered
-- title: Audit trail tampered with
-- severity: critical
-- entity: audit_trail
-- input: call_log
-- catches: what `kraken-audit verify` (and the nightly run's integrity check) found in kraken-audit's own tables:
--   a stored row changed, rows deleted, a row inserted with the chain triggers switched off, a chain rebuilt or
--   truncated after a signed digest, a digest file missing or altered (README "Integrity"). One finding per
--   problem (table, position, kind); the evidence names the row (its Kraken id or key, the changed columns)
--   and the signed digest that proves it (sequence and file). Problems of no account (digests, calls before an
--   account existed) are reported under the account with the lowest id, so they are reported once.
-- false positives: none known: a chain only breaks when stored evidence was changed outside kraken-audit (or a
--   database was restored from a backup older than the newest digest, which is reported as such).
SELECT :'account_id'::integer AS account_id,
       'audit_trail' AS entity_type,
       p.chain || CASE WHEN p.position IS NULL THEN '' ELSE '#' || p.position::text END AS entity_id,
       'critical' AS severity,
       'Audit trail tampered with (' || replace(p.kind, '_', ' ') || '): ' || p.detail AS title,
       jsonb_build_object('kind', p.kind, 'table', p.chain, 'position', p.position, 'row', p.row_key, 'columns', p.columns,
                          'detail', p.detail, 'digest_sequence', p.digest_sequence, 'digest_file', p.digest_file,
                          'verification_id', p.verification_id, 'recorded_at', p.recorded_at) AS evidence,
       'audit_tampered:' || :'account_id' || ':' || p.kind || ':' || p.chain || ':'
           || coalesce(p.position::text, md5(p.detail)) AS dedupe_key,
       p.recorded_at AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM audit.integrity_problems p
 WHERE p.recorded_at > :'changed_after'::timestamptz
   AND (coalesce(p.account_id, 0) = :'account_id'::integer
        OR (coalesce(p.account_id, 0) = 0 AND :'account_id'::integer = (SELECT min(a.id) FROM audit.accounts a)))
