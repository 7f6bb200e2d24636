-- Append-only in the database, for every role (issue 17, part 2).
--
-- Migrations 0007 and 0009 took UPDATE/DELETE/TRUNCATE on the append-only tables from kraken_audit_writer. The
-- owner of the schema (the user that migrates, often the one kraken-audit connects as) and superusers could still
-- rewrite or remove a stored call, a finding's history or a status change without a trace. These triggers refuse
-- UPDATE, DELETE and TRUNCATE on those tables whoever asks: a stored fact is evidence; a correction is a new row.
--
-- Tables: audit.api_calls, audit.finding_events, audit.status_history, audit.source_mismatches,
-- audit.api_key_snapshots. kraken-audit only ever INSERTs into them (checked for this migration in Sources/ and
-- sql/): a call's row is written once, after the answer arrived (PacedClient), never at call start and completed
-- later; finding triage and the analyser append to finding_events; a re-observed mismatch is ON CONFLICT DO
-- NOTHING (0007); no retention or cleanup deletes from them. So none needs an exception.
--
-- Consequences:
-- - Deleting a finding that has events fails too (finding_events' ON DELETE CASCADE hits the trigger); the tool
--   never deletes findings.
-- - A later migration that must rewrite rows of these tables (e.g. to fill a new column) has to say so explicitly:
--   ALTER TABLE ... DISABLE TRIGGER ... / ENABLE TRIGGER ... around the statement, inside its transaction.
-- - Not a defence against a determined owner or superuser: ALTER TABLE ... DISABLE TRIGGER (the owner) or
--   `SET session_replication_role = replica` (a superuser) switches the triggers off on purpose. That is the
--   tampering the hash chains and `kraken-audit verify` of issue 17 must detect; the triggers stop mistakes, a
--   careless GRANT to the writer, and anyone who edits evidence without first switching off its protection.
--
-- SQLSTATE P0001 (raise_exception): not temporary, so nothing retries it, and kraken-audit shows the message, the
-- detail and the hint. (42501 would wrongly advise granting a privilege: no privilege allows this.)

CREATE FUNCTION audit.refuse_append_only_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, audit, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% refused: the table is append-only (audit evidence); stored rows are never changed or removed',
            TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'raise_exception',
              DETAIL = CASE WHEN TG_LEVEL = 'ROW'
                            THEN format('row id %s of %I.%I; enforced by trigger for every role, owner and superusers included (migration 0011)',
                                        to_jsonb(OLD) ->> 'id', TG_TABLE_SCHEMA, TG_TABLE_NAME)
                            ELSE 'enforced by trigger for every role, owner and superusers included (migration 0011)' END,
              HINT = 'Corrections are appended as new rows, not edited into old ones.',
              TABLE = TG_TABLE_NAME,
              SCHEMA = TG_TABLE_SCHEMA;
END
$$;
COMMENT ON FUNCTION audit.refuse_append_only_change() IS
    'Trigger function: refuses UPDATE, DELETE and TRUNCATE on the append-only (evidence) tables, for every role.';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_calls', 'finding_events', 'status_history', 'source_mismatches', 'api_key_snapshots'] LOOP
        EXECUTE format('CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON audit.%I '
                       'FOR EACH ROW EXECUTE FUNCTION audit.refuse_append_only_change()', t);
        EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change()', t);
    END LOOP;
END
$$;

COMMENT ON TABLE audit.api_calls IS
    'Every call kraken-audit made to Kraken: endpoint, nonce, parameters, timing, HTTP status, Kraken error strings. Append-only, enforced by trigger (no UPDATE/DELETE/TRUNCATE for any role). Analysts: use the view kraken.api_calls.';
COMMENT ON TABLE audit.finding_events IS
    'Status history of findings: who changed what, when, and why (note). Append-only, enforced by trigger (no UPDATE/DELETE/TRUNCATE for any role).';
COMMENT ON TABLE audit.status_history IS
    'Each state of an order, withdrawal or deposit as first stored or changed (a change is a new row, earlier ones stay). Append-only, enforced by trigger (no UPDATE/DELETE/TRUNCATE for any role).';
COMMENT ON TABLE audit.source_mismatches IS
    'Export-vs-API disagreements per field: one row per distinct observation (input of the source_mismatch rule). Append-only, enforced by trigger (no UPDATE/DELETE/TRUNCATE for any role).';
COMMENT ON TABLE audit.api_key_snapshots IS
    'Internal (may change with any migration). One row per GetApiKeyInfo answer (once per key and collection run). Append-only, enforced by trigger (no UPDATE/DELETE/TRUNCATE for any role). Analysts: use the view kraken.api_key_snapshots.';
