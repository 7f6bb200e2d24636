-- Least privilege for the append-only tables (issue 14, finding 11).
--
-- The code only ever INSERTs into the call log, the finding history, the status history and the export/API
-- mismatch log, so the writer role loses UPDATE there: a compromised or careless writer can add facts but not
-- rewrite the ones already recorded. (DELETE and TRUNCATE were never granted.)
--
-- audit.source_mismatches was the one table of these the code updated in place (re-observing a mismatch bumped
-- last_seen and overwrote the values). It becomes a log of distinct observations: a row per (entity, field,
-- export value, API value) the first time that combination is seen; a changed value is a new row, the old one
-- stays. The source_mismatch rule reads the newest observation per field.

ALTER TABLE audit.source_mismatches DROP CONSTRAINT source_mismatches_pkey;
ALTER TABLE audit.source_mismatches ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
-- NULLS NOT DISTINCT (PostgreSQL 15+): a missing value on one side is a value like any other here.
CREATE UNIQUE INDEX source_mismatches_observation
    ON audit.source_mismatches (account_id, entity, entity_id, field, export_value, api_value) NULLS NOT DISTINCT;
COMMENT ON TABLE audit.source_mismatches IS
    'Export-vs-API disagreements per field, append-only: one row per distinct observation (input of the source_mismatch rule).';
COMMENT ON COLUMN audit.source_mismatches.last_seen IS
    'When this observation was recorded (equal to first_seen since migration 0007: rows are never updated).';

REVOKE UPDATE, DELETE, TRUNCATE ON audit.api_calls, audit.finding_events, audit.status_history, audit.source_mismatches
    FROM kraken_audit_writer;

-- The functions that write run with a fixed search_path whoever calls them, so no object in another schema
-- (e.g. a function created in public with a better-matching signature) can shadow what they use.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              JOIN pg_language l ON l.oid = p.prolang
             WHERE n.nspname = 'audit' AND l.lanname = 'plpgsql' LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, audit, pg_temp', f);
    END LOOP;
END
$$;
