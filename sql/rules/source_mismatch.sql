-- id: source_mismatch
-- title: Export or stream and API disagree
-- severity: high
-- entity: ledger
-- catches: a ledger entry or trade whose row in Kraken's data export differs from the REST API's row of the
--   same id in some field (or a row the WebSocket stream of `watch` delivered differs from REST's row of the
--   same id: export_id 'stream', evidence key "stream" instead of "export"), after normalising asset/pair names, number formats and time precision (the
--   collector records each differing field in audit.source_mismatches when it imports an export or pages
--   over ids an export gave; that table is append-only, a changed value is a new row: the newest counts).
--   One finding per entity, with every differing field as evidence.
-- false positives: a row Kraken corrected between the export and the API call (e.g. a pending deposit that
--   settled); fields whose meaning differs between file generations that the importer does not know yet.
SELECT :'account_id'::integer AS account_id, m.entity AS entity_type, m.entity_id,
       'high' AS severity,
       format('Kraken''s %s and API disagree on %s %s: %s',
              CASE WHEN bool_and(src.label = 'stream') THEN 'stream' WHEN bool_or(src.label = 'stream') THEN 'export/stream' ELSE 'export' END,
              m.entity, m.entity_id,
              string_agg(format('%s %s=%s api=%s', m.field, src.label, coalesce(m.export_value, 'NULL'), coalesce(m.api_value, 'NULL')), '; ' ORDER BY m.field)) AS title,
       jsonb_build_object('entity', m.entity, 'id', m.entity_id, 'export_id', max(m.export_id) FILTER (WHERE src.label = 'export'),
                          'fields', jsonb_object_agg(m.field, jsonb_build_object(src.label, m.export_value, 'api', m.api_value))) AS evidence,
       format('source_mismatch:%s:%s:%s', :'account_id'::integer, m.entity, m.entity_id) AS dedupe_key,
       max(m.last_seen) AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM (SELECT DISTINCT ON (s.entity, s.entity_id, s.field) s.*
          FROM audit.source_mismatches s
         WHERE s.account_id = :'account_id'::integer
         ORDER BY s.entity, s.entity_id, s.field, s.id DESC) m  -- the newest observation per field (append-only log)
 CROSS JOIN LATERAL (SELECT CASE WHEN m.export_id = 'stream' THEN 'stream' ELSE 'export' END AS label) src
 WHERE m.last_seen > :'changed_after'::timestamptz AND m.last_seen >= :'occurred_after'::timestamptz
 GROUP BY m.entity, m.entity_id;
