-- Monthly declarative range partitions of audit.api_calls (by started_at): an operator script, not a migration.
--
-- When: once audit.api_calls passes ~10^8 rows (README "Scaling"). Until then one table is simpler and as fast.
-- Run it as the owner of schema audit (the user that ran `kraken-audit migrate`), with psql:
--
--     psql -X -v ON_ERROR_STOP=1 -d kraken_audit -f sql/scale/partition_monthly.sql
--     psql ... -v boundary='2027-01-01 00:00+00' -v months_ahead=3 -f sql/scale/partition_monthly.sql
--
-- and then daily from cron or a systemd timer (idempotent; creates what is missing, nothing else):
--
--     psql -X -v ON_ERROR_STOP=1 -d kraken_audit -c 'SELECT audit.create_month_partitions(3)'
--
-- What it does (PostgreSQL 15, "Table Partitioning", 5.11.2.2 "Partition Maintenance"): the existing table is
-- not copied. It becomes the first partition, audit.api_calls_history, FOR VALUES FROM (MINVALUE) TO (boundary),
-- under a new partitioned table of the same name, columns, defaults, CHECK and foreign-key constraints, indexes,
-- triggers, grants, comment and sequence; the views that read it (kraken.api_calls, kraken.api_usage_hourly,
-- kraken.collection_health) are pointed at the new table. From `boundary` (default: the next first of a month,
-- UTC) on there is one partition per calendar month (UTC), audit.api_calls_YYYYmMM. No evidence row is rewritten,
-- so every chain hash stays as it was; the conversion itself is a catalogue change under a short ACCESS EXCLUSIVE
-- lock, because the two indexes it needs and the bound check are built first without blocking writers (step 1).
--
-- What changes (PostgreSQL requires the partition key in every unique index of a partitioned table, 5.11.2.3
-- "Limitations"):
-- - The primary key becomes (id, started_at) and the chain's unique index (chain_account, chain_pos, started_at).
--   id still comes from one sequence and chain positions from the chain trigger, which computes each position
--   under the per-chain transaction-level advisory lock (migration 0012): that lock, not an index, is now what
--   keeps two rows of one chain from sharing a position across months. Within a partition the index still refuses
--   it; a fork across partitions could only come from a writer that bypasses the trigger (triggers switched off),
--   and `kraken-audit verify` reports it (two rows at one position: a row inserted out of band).
-- - The history partition keeps its original unique index on (chain_account, chain_pos): full strength there.
-- - Row triggers (chain_append, append_only_rows) are defined on the partitioned table and cloned to every
--   partition; statement triggers (chain_head, append_only_truncate) are not inherited by PostgreSQL, so they are
--   created on the parent and on every partition (a TRUNCATE or INSERT naming a partition directly is still
--   refused, or chained and recorded).
-- - ALTER TABLE ... DETACH PARTITION (owner only) removes a month without a row trigger firing: like DISABLE
--   TRIGGER, it is the owner's deliberate act; the chains and `kraken-audit verify` report the missing rows.
-- - Partitions are created ahead by audit.create_month_partitions. There is deliberately no DEFAULT partition
--   (rows there would block creating their month later). If the function stops running for `months_ahead` months,
--   inserts of later calls fail loudly ("no partition of relation ... found for row", SQLSTATE 23514): nothing is
--   lost silently; run the function and collect again.
-- - The chain trigger finds a chain's head with one index probe per partition (the head's month is not known in
--   advance): negligible for api_calls (calls are paced by Kraken's counter), but see README "Scaling" for the
--   ledger.
-- - Partitions get no grants of their own: kraken_audit_writer and readers reach rows only through the parent.

\set ON_ERROR_STOP on
\if :{?months_ahead}
\else
\set months_ahead 3
\endif
\if :{?boundary}
\else
\set boundary ''
\endif
SET client_min_messages = warning;
SELECT coalesce(nullif(:'boundary', '')::timestamptz,
                (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') AS boundary \gset
SELECT (relkind = 'p') AS already_partitioned FROM pg_class WHERE oid = 'audit.api_calls'::regclass \gset

-- 0. The helpers (also used by sql/scale/partition_ledger_monthly.sql).
BEGIN;

-- Creates the monthly partitions of every partitioned table of schema audit up to and including the month
-- `months_ahead` months from now (UTC), from the highest existing bound on; returns the names created.
CREATE OR REPLACE FUNCTION audit.create_month_partitions(months_ahead integer DEFAULT 3) RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    tr record;
    bound timestamptz;
    next_bound timestamptz;
    horizon timestamptz;
    part text;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'create_month_partitions(%): months_ahead must be between 0 and 120', months_ahead
            USING HINT = 'Call it daily with a small number, e.g. 3.';
    END IF;
    horizon := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months_ahead + 1)) AT TIME ZONE 'UTC';
    FOR t IN SELECT c.oid, c.relname, c.relowner::regrole AS owner
               FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'audit' ORDER BY c.relname LOOP
        -- One lock order for every caller (two timers at once): the parent first, the catalogue read after.
        EXECUTE format('LOCK TABLE audit.%I IN SHARE UPDATE EXCLUSIVE MODE', t.relname);
        SELECT max((regexp_match(pg_get_expr(k.relpartbound, k.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz) INTO bound
          FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid WHERE i.inhparent = t.oid;
        IF bound IS NULL THEN
            RAISE EXCEPTION 'audit.% has no partition with an upper bound', t.relname
                USING HINT = 'Convert it with sql/scale/partition_monthly.sql, which attaches the existing rows first.';
        END IF;
        WHILE bound < horizon LOOP
            -- The first month after the history partition may start mid-month (at the conversion's boundary).
            next_bound := (date_trunc('month', bound AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
            part := t.relname || '_' || to_char(bound AT TIME ZONE 'UTC', 'YYYY"m"MM');
            -- Indexes, foreign keys, CHECK constraints and row triggers come from the parent.
            EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.%I FOR VALUES FROM (%L) TO (%L)',
                           part, t.relname, bound, next_bound);
            EXECUTE format('ALTER TABLE audit.%I OWNER TO %I', part, t.owner);
            -- No grants of its own (schema audit's default privileges would give the writer UPDATE): rows are
            -- reached through the parent, whose grants apply.
            FOR tr IN SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(x.grantee::regrole::text) END AS grantee
                        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x
                       WHERE c.oid = format('audit.%I', part)::regclass AND x.grantee <> c.relowner LOOP
                EXECUTE format('REVOKE ALL ON audit.%I FROM %s', part, tr.grantee);
            END LOOP;
            -- Statement triggers are not inherited: the parent's, on the partition too.
            FOR tr IN SELECT pg_get_triggerdef(g.oid) AS def FROM pg_trigger g
                       WHERE g.tgrelid = t.oid AND NOT g.tgisinternal AND (g.tgtype & 1) = 0 LOOP
                EXECUTE replace(tr.def, format(' ON audit.%s ', t.relname), format(' ON audit.%I ', part));
            END LOOP;
            EXECUTE format('COMMENT ON TABLE audit.%I IS %L', part,
                           format('Partition of audit.%s for [%s, %s) (sql/scale/partition_monthly.sql). Append-only, enforced by trigger.',
                                  t.relname, bound, next_bound));
            RETURN NEXT part;
            bound := next_bound;
        END LOOP;
    END LOOP;
END
$$;
-- Not the writer's (schema audit's default privileges grant it EXECUTE on new functions): the owner's job.
REVOKE ALL ON FUNCTION audit.create_month_partitions(integer) FROM PUBLIC, kraken_audit_writer;
COMMENT ON FUNCTION audit.create_month_partitions(integer) IS
    'Creates the missing monthly partitions of the partitioned audit tables up to now + months_ahead months (sql/scale/partition_monthly.sql). Run daily.';

-- Turns audit.<p_table> into a table partitioned by range of <p_key>, its current rows the partition
-- audit.<p_table>_history FOR VALUES FROM (MINVALUE) TO (p_boundary). Expects, built beforehand without blocking
-- writers: <p_table>_pkey_part, a unique index on the primary key's columns plus p_key; for every other unique
-- index X lacking p_key, X_part with p_key appended; and the validated constraint <p_table>_history_bound,
-- CHECK (p_key < p_boundary), which lets ATTACH skip its scan.
CREATE OR REPLACE PROCEDURE audit.convert_to_month_partitions(p_table text, p_key text, p_boundary timestamptz)
    LANGUAGE plpgsql
    -- Deparsed definitions (views, indexes, triggers, constraints) come out schema-qualified.
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old regclass := format('audit.%I', p_table)::regclass;
    hist text := p_table || '_history';
    owner regrole;
    pk_name text;
    pk_cols text[];
    r record;
    defs text[] := '{}';
    row_triggers text[] := '{}';
    d text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = old) = 'p' THEN
        RAISE NOTICE 'audit.% is already partitioned', p_table;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = old AND conname = p_table || '_history_bound' AND convalidated) THEN
        RAISE EXCEPTION 'audit.%: the validated constraint %_history_bound is missing', p_table, p_table
            USING HINT = 'Run the whole script: its step 1 builds it.';
    END IF;
    EXECUTE format('LOCK TABLE audit.%I IN ACCESS EXCLUSIVE MODE', p_table);
    SELECT c.relowner::regrole INTO owner FROM pg_class c WHERE c.oid = old;
    SELECT c.conname, array_agg(a.attname::text ORDER BY k.n) INTO pk_name, pk_cols
      FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n)
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
     WHERE c.conrelid = old AND c.contype = 'p' GROUP BY c.conname;

    -- The parent's indexes: every index but the primary key and the prepared ones, as it is; a unique index
    -- without the key gets the key appended (and needs its prepared _part twin on the history table).
    FOR r IN SELECT i.indexrelid::regclass::text AS name, c.relname, i.indisunique, pg_get_indexdef(i.indexrelid) AS def,
                    (SELECT bool_or(a.attname = p_key) FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = old AND a.attnum = k) AS has_key
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = old AND c.relname <> pk_name AND c.relname NOT LIKE '%\_part' LOOP
        IF r.indisunique AND NOT coalesce(r.has_key, false) THEN
            IF r.def !~ '\)$' OR r.def ~ ' WHERE | INCLUDE ' THEN
                RAISE EXCEPTION 'audit.%: cannot extend unique index % by the partition key', p_table, r.name;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                            WHERE i.indrelid = old AND c.relname = r.relname || '_part' AND i.indisvalid AND i.indisunique) THEN
                RAISE EXCEPTION 'audit.%: the valid unique index %_part is missing', p_table, r.relname
                    USING HINT = 'Run the whole script: its step 1 builds it (drop an INVALID one left by a failed run first).';
            END IF;
            defs := defs || regexp_replace(r.def, '\)$', format(', %I)', p_key));
        ELSE
            defs := defs || r.def;
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE i.indrelid = old AND c.relname = p_table || '_pkey_part' AND i.indisvalid AND i.indisunique) THEN
        RAISE EXCEPTION 'audit.%: the valid unique index %_pkey_part is missing', p_table, p_table
            USING HINT = 'Run the whole script: its step 1 builds it.';
    END IF;
    FOR r IN SELECT pg_get_triggerdef(oid) AS def, (tgtype & 1) = 1 AS per_row, tgname FROM pg_trigger
              WHERE tgrelid = old AND NOT tgisinternal LOOP
        defs := defs || r.def;
        IF r.per_row THEN
            row_triggers := row_triggers || r.tgname::text;
        END IF;
    END LOOP;
    FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = old AND contype = 'f' LOOP
        defs := defs || format('ALTER TABLE audit.%I ADD CONSTRAINT %I %s', p_table, r.conname, r.def);
    END LOOP;

    -- The old table becomes the history partition; its index names get out of the parent's way.
    EXECUTE format('ALTER TABLE audit.%I RENAME TO %I', p_table, hist);
    EXECUTE format('ALTER TABLE audit.%I DROP CONSTRAINT %I', hist, pk_name);
    EXECUTE format('ALTER INDEX audit.%I RENAME TO %I', p_table || '_pkey_part', hist || '_pkey');
    EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I', hist, hist || '_pkey', hist || '_pkey');
    FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = old AND c.relname <> hist || '_pkey' LOOP
        EXECUTE format('ALTER INDEX audit.%I RENAME TO %I', r.relname,
                       CASE WHEN left(r.relname, length(p_table)) = p_table THEN hist || substr(r.relname, length(p_table) + 1)
                            ELSE r.relname || '_history' END);
    END LOOP;
    -- Row triggers are cloned from the parent when the table is attached; statement triggers stay its own.
    FOREACH d IN ARRAY row_triggers LOOP
        EXECUTE format('DROP TRIGGER %I ON audit.%I', d, hist);
    END LOOP;

    -- The parent: same columns (order included), defaults, CHECK constraints, column comments, storage.
    EXECUTE format('CREATE TABLE audit.%I (LIKE audit.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE '
                   'INCLUDING COMMENTS INCLUDING COMPRESSION) PARTITION BY RANGE (%I)', p_table, hist, p_key);
    EXECUTE format('ALTER TABLE audit.%I DROP CONSTRAINT %I', p_table, p_table || '_history_bound');
    EXECUTE format('ALTER TABLE audit.%I OWNER TO %I', p_table, owner);
    EXECUTE format('COMMENT ON TABLE audit.%I IS %L', p_table,
                   obj_description(old, 'pg_class') || format(' Partitioned by month of %s (sql/scale/partition_monthly.sql).', p_key));
    FOR r IN SELECT a.attname, pg_get_serial_sequence(format('audit.%I', hist), a.attname) AS seq
               FROM pg_attribute a WHERE a.attrelid = old AND a.attnum > 0 AND NOT a.attisdropped LOOP
        IF r.seq IS NOT NULL THEN
            EXECUTE format('ALTER SEQUENCE %s OWNED BY audit.%I.%I', r.seq, p_table, r.attname);
        END IF;
    END LOOP;
    -- Exactly the old table's grants (schema audit's default privileges gave the new table others).
    FOR r IN SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(x.grantee::regrole::text) END AS grantee
               FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x
              WHERE c.oid = format('audit.%I', p_table)::regclass AND x.grantee <> c.relowner LOOP
        EXECUTE format('REVOKE ALL ON audit.%I FROM %s', p_table, r.grantee);
    END LOOP;
    FOR r IN SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(x.grantee::regrole::text) END AS grantee,
                    x.privilege_type, x.is_grantable
               FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x
              WHERE c.oid = old AND x.grantee <> c.relowner LOOP
        EXECUTE format('GRANT %s ON audit.%I TO %s%s', r.privilege_type, p_table, r.grantee,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I PRIMARY KEY (%s)', p_table, pk_name,
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(pk_cols || CASE WHEN p_key = ANY (pk_cols) THEN '{}'::text[] ELSE ARRAY[p_key] END) c));
    FOREACH d IN ARRAY defs LOOP
        EXECUTE d;
    END LOOP;

    -- Attach: the validated bound check proves the partition constraint, so no scan; equivalent indexes, foreign
    -- keys and constraints are adopted, not rebuilt.
    EXECUTE format('ALTER TABLE audit.%I ATTACH PARTITION audit.%I FOR VALUES FROM (MINVALUE) TO (%L)', p_table, hist, p_boundary);
    EXECUTE format('ALTER TABLE audit.%I DROP CONSTRAINT %I', hist, p_table || '_history_bound');
    EXECUTE format('COMMENT ON TABLE audit.%I IS %L', hist,
                   format('Partition of audit.%s: the rows before %s (the table as it was before sql/scale/partition_monthly.sql). Append-only, enforced by trigger.',
                          p_table, p_boundary));

    -- Views are bound to tables, not names: the ones that read the old table now read the partitioned one.
    FOR r IN SELECT DISTINCT c.oid, c.relname, n.nspname
               FROM pg_depend dep JOIN pg_rewrite rw ON rw.oid = dep.objid
               JOIN pg_class c ON c.oid = rw.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE dep.refobjid = old AND c.oid <> old LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', r.nspname, r.relname,
                       replace(pg_get_viewdef(r.oid), format('audit.%s', hist), format('audit.%I', p_table)));
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_rewrite rw ON rw.oid = dep.objid
                WHERE dep.refobjid = old AND rw.ev_class <> old) THEN
        RAISE EXCEPTION 'audit.%: a view still reads the history partition directly', hist;
    END IF;
END
$$;
REVOKE ALL ON PROCEDURE audit.convert_to_month_partitions(text, text, timestamptz) FROM PUBLIC, kraken_audit_writer;
COMMENT ON PROCEDURE audit.convert_to_month_partitions(text, text, timestamptz) IS
    'Operator step of sql/scale/partition_monthly.sql: makes an audit table partitioned by month, its rows the first partition.';
COMMIT;

-- 1. Without blocking writers (kraken-audit may keep running): the indexes the partitioned table needs, and the
--    bound the history partition will have. A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: drop it
--    and run the script again.
\if :already_partitioned
\echo audit.api_calls is already partitioned: creating missing partitions only
\else
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS api_calls_pkey_part ON audit.api_calls (id, started_at);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS api_calls_chain_part ON audit.api_calls (chain_account, chain_pos, started_at);
ALTER TABLE audit.api_calls DROP CONSTRAINT IF EXISTS api_calls_history_bound;
ALTER TABLE audit.api_calls ADD CONSTRAINT api_calls_history_bound CHECK (started_at < :'boundary'::timestamptz) NOT VALID;
ALTER TABLE audit.api_calls VALIDATE CONSTRAINT api_calls_history_bound;

-- 2. The switch, in one transaction (a few catalogue changes under ACCESS EXCLUSIVE: writers wait, briefly).
BEGIN;
CALL audit.convert_to_month_partitions('api_calls', 'started_at', :'boundary');
COMMIT;
ANALYZE audit.api_calls;
\endif

-- 3. The months from the boundary to now + months_ahead.
SELECT audit.create_month_partitions(:months_ahead) AS created;
