-- Monthly range partitions of audit.ledger_entry_versions (by Kraken's `time`): the ledger's counterpart of
-- partition_monthly.sql. NOT READY TO RUN ON A DATABASE kraken-audit COLLECTS INTO: the conversion, the view, the
-- triggers, the chains and the rules are tested (Tests/OperationsTests/PartitioningTests.swift), collection after it
-- is not, because the collector's inserts name the old primary key:
--
--   Sources/Collector/UpsertTable.swift and Sources/Collector/ExportImporter.swift insert with
--   `ON CONFLICT (account_id, ledger_id, version) DO NOTHING`. On the partitioned table no unique index has exactly
--   those columns (PostgreSQL 15 requires the partition key in it, 5.11.2.3), so every insert fails with SQLSTATE
--   42P10 "there is no unique or exclusion constraint matching the ON CONFLICT specification". Both must first say
--   `ON CONFLICT ON CONSTRAINT ledger_entry_versions_pkey DO NOTHING` (the name is the same before and after this
--   script, so one statement serves both layouts).
--
-- Run after partition_monthly.sql (which creates audit.convert_to_month_partitions and create_month_partitions),
-- as the owner, with the same boundary:
--
--     psql -X -v ON_ERROR_STOP=1 -v boundary='2027-01-01 00:00+00' -d kraken_audit -f sql/scale/partition_ledger_monthly.sql
--
-- What changes besides what partition_monthly.sql describes:
-- - The primary key becomes (account_id, ledger_id, version, time): one version of one Kraken entry could now be
--   stored twice if the two copies had different times. The chain trigger's conflict check (migration 0012),
--   which runs under the per-chain advisory lock every writer of the account's ledger takes, looks for the key
--   across all partitions; this script makes it refuse (23505 unique_violation) a row whose key is stored with a
--   different time, instead of letting it through unchained. So (account_id, ledger_id, version) stays unique for
--   every insert that passes the triggers; only a writer with the triggers switched off could store a duplicate,
--   and verify reports that row (not chained: "inserted out of band").
-- - The chain's unique index becomes (chain_account, chain_pos, time); as for api_calls, the advisory lock is what
--   keeps positions unique across months, and the history partition keeps the old index.
-- - Backfilled entries older than the boundary go to the history partition (its lower bound is MINVALUE), so an
--   export import after the conversion still works.
-- - Cost: the chain head lookup and the current-version view's "no newer version" probe each touch every partition
--   (an entry's versions and a chain's head can be in any month): one index probe per partition and row. Fine
--   for paged collection; an export import of 10^6 rows into 60 partitions pays it 60 times per row.

\set ON_ERROR_STOP on
\if :{?boundary}
\else
\set boundary ''
\endif
SET client_min_messages = warning;
SELECT coalesce(nullif(:'boundary', '')::timestamptz,
                (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') AS boundary \gset
SELECT (relkind = 'p') AS already_partitioned FROM pg_class WHERE oid = 'audit.ledger_entry_versions'::regclass \gset

\if :already_partitioned
\echo audit.ledger_entry_versions is already partitioned
\else
-- 1. Without blocking writers.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_entry_versions_pkey_part
    ON audit.ledger_entry_versions (account_id, ledger_id, version, "time");
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_entry_versions_chain_part
    ON audit.ledger_entry_versions (chain_account, chain_pos, "time");
ALTER TABLE audit.ledger_entry_versions DROP CONSTRAINT IF EXISTS ledger_entry_versions_history_bound;
ALTER TABLE audit.ledger_entry_versions
    ADD CONSTRAINT ledger_entry_versions_history_bound CHECK ("time" < :'boundary'::timestamptz) NOT VALID;
ALTER TABLE audit.ledger_entry_versions VALIDATE CONSTRAINT ledger_entry_versions_history_bound;

-- 2. The switch (the view audit.ledger_entries is pointed at the partitioned table by the procedure).
BEGIN;
CALL audit.convert_to_month_partitions('ledger_entry_versions', 'time', :'boundary');
-- A stored (account_id, ledger_id, version) with another time: refused, not passed through unchained.
DO $$
DECLARE
    def text := pg_get_functiondef('audit.chain_append_ledger_entries'::regproc);
    patched text;
BEGIN
    patched := replace(def, 'x.version = NEW.version) THEN NEW.chain_pos := 0;',
        'x.version = NEW.version) THEN '
        'IF NOT EXISTS (SELECT 1 FROM audit.ledger_entry_versions y WHERE y.account_id = NEW.account_id '
        'AND y.ledger_id = NEW.ledger_id AND y.version = NEW.version AND y."time" = NEW."time") THEN '
        'RAISE EXCEPTION ''ledger entry % version % of account % is already stored with another time'', '
        'NEW.ledger_id, NEW.version, NEW.account_id USING ERRCODE = ''unique_violation'', '
        'HINT = ''(account_id, ledger_id, version) is unique across partitions: checked under the chain lock (sql/scale/partition_ledger_monthly.sql).''; '
        'END IF; NEW.chain_pos := 0;');
    IF patched = def THEN
        RAISE EXCEPTION 'audit.chain_append_ledger_entries() does not have the conflict check of migration 0012';
    END IF;
    EXECUTE patched;
END
$$;
COMMIT;
ANALYZE audit.ledger_entry_versions;
\endif

SELECT audit.create_month_partitions(3) AS created;
