-- Tamper-evident facts: per-account hash chains over every fact kraken-audit appends (issue 17, parts 1 and 2).
--
-- Design (README "Integrity" has the threat model):
-- - One chain per (account, table): `chain_account` (0 for rows that belong to no account: calls made before an
--   account was known, finding events, findings without an account) and `chain_pos` 1, 2, 3, ... Per table rather
--   than one per account, so that a chain is one ordered index scan of one table (verify is a set-based pass per
--   table, not a merge of a dozen), writers of different tables of one account never wait for each other, and a
--   digest names a table's head directly. Tables are independent evidence anyway: no row of one table proves
--   anything about another.
-- - row_hash = SHA-256(prev_hash || encoding v1 of the row); prev_hash of position 1 is 32 zero bytes.
-- - Encoding v1 (independent of DateStyle, TimeZone, extra_float_digits, lc_*): the 4-byte big-endian encoding
--   version (1), then fields, each a 4-byte big-endian length and that many bytes, or FF FF FF FF for NULL:
--   the chain (table) name, chain_account, chain_pos, chained_at, then every column of audit.chain_tables.columns
--   in that order. A value's bytes: text as UTF-8; integer, bigint and numeric as their decimal text (numeric
--   keeps the scale Kraken sent: "1.50" stays "1.50"); boolean as "t"/"f"; timestamptz as the 8-byte big-endian
--   count of microseconds since 1970-01-01 UTC; double precision as its 8 IEEE-754 bytes (float8send); jsonb as
--   PostgreSQL's jsonb text (keys sorted by jsonb's rule, fixed spacing: no setting changes it); arrays as the
--   text of to_jsonb(array). kraken-audit's verifier recomputes every hash itself from the stored values
--   (Sources/AuditStore/ChainVerifier.swift): it never calls a function stored in the database.
-- - col_digest: the first 4 bytes of SHA-256 of each column's field, concatenated. Not a security control (a
--   tamperer can rewrite it); it lets verify name the columns that changed when it was left alone.
-- - The append is serialised per chain: the trigger takes a transaction-level advisory lock on (chain, account), so
--   concurrent writers of one chain queue inside their transactions and never fork it (a unique index on
--   (chain_account, chain_pos) backs that up); a rolled-back insert leaves the chain as it was. audit.chain_heads
--   records each chain's last link, once per statement. A row that would conflict with a stored one on the table's unique key (an upsert
--   that will update, an ON CONFLICT DO NOTHING that will skip) is not chained: the stored row stays the fact.
-- - Entity tables become append-only version tables: audit.ledger_entries is now a view of the current version
--   in audit.ledger_entry_versions (same for trades, orders, withdrawals, deposits). A changed Kraken object is a
--   new version (version + 1) chained like any other row; nothing is updated in place. The views accept INSERT
--   (version 1) and UPDATE (appends a version); DELETE is refused.
-- - findings and exports are workflow tables (status, triage, export state advance in place): their creation is
--   chained (the columns that never change afterwards) and a trigger refuses to change those columns.
-- - Rows stored before this migration are chained by it, in their stored order; audit.integrity_state records
--   the migration time as the point from which integrity holds.

CREATE TABLE audit.chain_tables (
    chain         text PRIMARY KEY,
    relation      text NOT NULL,            -- the table in schema audit that holds the chain
    key_columns   text[] NOT NULL,          -- how a row is named in verify's report (Kraken id, version, ...)
    unique_key    text[],                   -- the table's natural unique key (a conflicting insert is not chained)
    columns       text[] NOT NULL,          -- encoded columns, in encoding order
    encoding      integer NOT NULL DEFAULT 1 CHECK (encoding = 1)
);
COMMENT ON TABLE audit.chain_tables IS
    'Internal. Which tables are hash-chained and which columns each chain covers (encoding v1; migration 0012).';

CREATE TABLE audit.chain_heads (
    account_id  integer NOT NULL,           -- chain_account: 0 for rows of no account
    chain       text NOT NULL REFERENCES audit.chain_tables(chain),
    position    bigint NOT NULL CHECK (position >= 0),
    head_hash   bytea NOT NULL CHECK (octet_length(head_hash) = 32),
    first_at    timestamptz,
    last_at     timestamptz,
    PRIMARY KEY (account_id, chain)
);
COMMENT ON TABLE audit.chain_heads IS
    'Internal. The last link of every hash chain (position and hash), locked by each append. Written only by the chain triggers.';

CREATE TABLE audit.integrity_state (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    chains_since     timestamptz NOT NULL,   -- migration 0012 ran: integrity holds from here on
    rows_at_start    bigint NOT NULL,        -- rows that existed then and were chained by the migration
    last_full_verify timestamptz
);
COMMENT ON TABLE audit.integrity_state IS
    'When the hash chains began (migration 0012) and when the last full verification ran.';

-- Signed digests (kraken-audit seal): the same document is also a file in [integrity] digest_dir.
CREATE TABLE audit.digests (
    sequence            bigint PRIMARY KEY CHECK (sequence >= 1),
    created_at          timestamptz NOT NULL,
    digest_hash         bytea NOT NULL UNIQUE CHECK (octet_length(digest_hash) = 32),
    previous_hash       bytea CHECK (octet_length(previous_hash) = 32),
    document            text NOT NULL,       -- the signed bytes (canonical JSON), exactly
    signature           bytea NOT NULL CHECK (octet_length(signature) = 64),
    public_key          text NOT NULL,       -- PEM; informative only: verify trusts the key it is given
    key_fingerprint     text NOT NULL,
    file_name           text NOT NULL,
    CHECK ((sequence = 1) = (previous_hash IS NULL))
);
COMMENT ON TABLE audit.digests IS
    'Signed digests of the hash chains (kraken-audit seal), one per seal. Append-only, enforced by trigger.';

-- What each verification (kraken-audit verify, the nightly run) checked and found. Input of the rule
-- audit_tampered: a problem becomes a critical finding and goes to the alert hook.
CREATE TABLE audit.integrity_verifications (
    id              bigserial PRIMARY KEY,
    run_id          bigint REFERENCES audit.collector_runs(id),
    mode            text NOT NULL CHECK (mode IN ('incremental', 'full')),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    rows_checked    bigint NOT NULL,
    digests_checked integer NOT NULL,
    problems        integer NOT NULL
);
COMMENT ON TABLE audit.integrity_verifications IS
    'Each verification of the hash chains and signed digests (kraken-audit verify, the nightly run). Append-only, enforced by trigger.';

CREATE TABLE audit.integrity_problems (
    id               bigserial PRIMARY KEY,
    verification_id  bigint NOT NULL REFERENCES audit.integrity_verifications(id),
    account_id       integer,               -- the chain's account (0: rows of no account); NULL for a digest problem
    kind             text NOT NULL,         -- row_changed | row_deleted | row_inserted_out_of_band | link_broken | chain_truncated | chain_rebuilt | digest_invalid
    chain            text NOT NULL,         -- the table (or 'digests')
    position         bigint,
    row_key          jsonb NOT NULL DEFAULT '{}'::jsonb,
    columns          text[] NOT NULL DEFAULT '{}',
    detail           text NOT NULL,
    digest_sequence  bigint,                -- the signed digest that proves it, when one does
    digest_file      text,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX integrity_problems_account ON audit.integrity_problems (account_id, recorded_at);
COMMENT ON TABLE audit.integrity_problems IS
    'What a verification found wrong, one row per problem (input of the audit_tampered rule). Append-only, enforced by trigger.';

-- The entity tables become version tables; the old names become views of the current version.
DO $$
DECLARE
    e record;
    cols text;
BEGIN
    FOR e IN SELECT * FROM (VALUES ('ledger_entries', 'ledger_entry_versions', 'ledger_id'),
                                   ('trades', 'trade_versions', 'txid'),
                                   ('orders', 'order_versions', 'txid'),
                                   ('withdrawals', 'withdrawal_versions', 'refid'),
                                   ('deposits', 'deposit_versions', 'refid')) AS v(name, versions, key) LOOP
        EXECUTE format('ALTER TABLE audit.%I RENAME TO %I', e.name, e.versions);
        EXECUTE format('ALTER TABLE audit.%I ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1)', e.versions);
        EXECUTE format('ALTER TABLE audit.%I DROP CONSTRAINT %I', e.versions, e.name || '_pkey');
        EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I PRIMARY KEY (account_id, %I, version)',
                       e.versions, e.versions || '_pkey', e.key);
        SELECT string_agg(format('v.%I', attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = format('audit.%I', e.versions)::regclass AND attnum > 0 AND NOT attisdropped;
        -- NOT EXISTS rather than DISTINCT ON: a condition on any column (time, asset) still reaches the table's
        -- indexes through the view; nearly every key has one version, so the anti-join is one index probe.
        EXECUTE format('CREATE VIEW audit.%I AS SELECT %s FROM audit.%I v WHERE NOT EXISTS '
                       '(SELECT 1 FROM audit.%I n WHERE n.account_id = v.account_id AND n.%I = v.%I AND n.version > v.version)',
                       e.name, cols, e.versions, e.versions, e.key, e.key);
        EXECUTE format('COMMENT ON VIEW audit.%I IS %L', e.name,
                       format('The current version of each %s (the highest version in audit.%s, which keeps every version, hash-chained).',
                              e.key, e.versions));
        EXECUTE format('COMMENT ON TABLE audit.%I IS %L', e.versions,
                       format('Every version of each object as Kraken sent it (a changed object is a new version; nothing is updated in place). '
                              'Append-only, enforced by trigger; hash-chained per account (migration 0012). Current versions: audit.%s.', e.name));
    END LOOP;
END
$$;

-- Views that read the entity tables followed the rename (PostgreSQL binds views to tables, not names): point
-- them at the current-version views again, with their definitions otherwise unchanged.
DO $$
DECLARE
    v record;
    def text;
BEGIN
    SET LOCAL search_path = pg_catalog;   -- every name in the deparsed definitions comes out schema-qualified
    FOR v IN SELECT DISTINCT c.oid, c.relname, n.nspname
               FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
               JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE d.refobjid IN ('audit.ledger_entry_versions'::regclass, 'audit.trade_versions'::regclass,
                                   'audit.order_versions'::regclass, 'audit.withdrawal_versions'::regclass,
                                   'audit.deposit_versions'::regclass)
                AND NOT (n.nspname = 'audit' AND c.relname IN ('ledger_entries', 'trades', 'orders', 'withdrawals', 'deposits'))
    LOOP
        def := pg_get_viewdef(v.oid);
        def := replace(def, 'audit.ledger_entry_versions', 'audit.ledger_entries');
        def := replace(def, 'audit.trade_versions', 'audit.trades');
        def := replace(def, 'audit.order_versions', 'audit.orders');
        def := replace(def, 'audit.withdrawal_versions', 'audit.withdrawals');
        def := replace(def, 'audit.deposit_versions', 'audit.deposits');
        EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', v.nspname, v.relname, def);
    END LOOP;
END
$$;

-- INSERT and UPDATE through the current-version views append a version; DELETE is refused.
CREATE FUNCTION audit.append_entity_version() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, audit, pg_temp
AS $$
DECLARE
    versions text := TG_ARGV[0];
    key text := TG_ARGV[1];
    cols text;
    next_version integer;
    row_json jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on %.% refused: every version of a collected object is kept (audit evidence)',
                TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'raise_exception', HINT = 'A correction is a new version, appended by INSERT or UPDATE.';
    END IF;
    row_json := to_jsonb(NEW);
    IF TG_OP = 'UPDATE' THEN
        EXECUTE format('SELECT max(version) + 1 FROM audit.%I WHERE account_id = $1 AND %I = $2', versions, key)
           INTO next_version USING NEW.account_id, row_json ->> key;
        -- updated_at and first_seen_at as the UPDATE left them (unchanged unless it set them).
        row_json := row_json || jsonb_build_object('version', next_version);
    ELSE
        row_json := row_json || jsonb_build_object('version', coalesce(NEW.version, 1));
    END IF;
    -- NULL values are left out, so the versions table's defaults apply (first_seen_at, updated_at, source).
    SELECT string_agg(quote_ident(key_name), ', ') INTO cols FROM jsonb_object_keys(row_json) AS k(key_name)
     WHERE row_json -> key_name <> 'null'::jsonb;
    EXECUTE format('INSERT INTO audit.%I (%s) SELECT %s FROM jsonb_populate_record(NULL::audit.%I, $1)',
                   versions, cols, cols, versions) USING row_json;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION audit.append_entity_version() IS
    'INSTEAD OF trigger of the current-version views: INSERT and UPDATE append a version, DELETE is refused (migration 0012).';

DO $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT * FROM (VALUES ('ledger_entries', 'ledger_entry_versions', 'ledger_id'),
                                   ('trades', 'trade_versions', 'txid'),
                                   ('orders', 'order_versions', 'txid'),
                                   ('withdrawals', 'withdrawal_versions', 'refid'),
                                   ('deposits', 'deposit_versions', 'refid')) AS v(name, versions, key) LOOP
        EXECUTE format('CREATE TRIGGER append_version INSTEAD OF INSERT OR UPDATE OR DELETE ON audit.%I '
                       'FOR EACH ROW EXECUTE FUNCTION audit.append_entity_version(%L, %L)', e.name, e.versions, e.key);
        EXECUTE format('CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON audit.%I '
                       'FOR EACH ROW EXECUTE FUNCTION audit.refuse_append_only_change()', e.versions);
        EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change()', e.versions);
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit.%I FROM kraken_audit_writer', e.versions);
        EXECUTE format('GRANT SELECT, INSERT ON audit.%I TO kraken_audit_writer', e.versions);
        -- The writer appends versions through the collector; UPDATE through the view (which appends one too) is the
        -- owner's, for corrections by hand and tests: a writer-role holder cannot restate an object's current value.
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit.%I FROM kraken_audit_writer', e.name);
        EXECUTE format('GRANT SELECT, INSERT ON audit.%I TO kraken_audit_writer', e.name);
    END LOOP;
END
$$;

-- balances snapshots are already one row per observation; they become append-only too.
CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON audit.balances
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_append_only_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.balances
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit.balances FROM kraken_audit_writer;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['digests', 'integrity_verifications', 'integrity_problems'] LOOP
        EXECUTE format('CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON audit.%I '
                       'FOR EACH ROW EXECUTE FUNCTION audit.refuse_append_only_change()', t);
        EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change()', t);
    END LOOP;
END
$$;

-- Which tables are chained, and their columns in encoding order (every column but the chain's own).
INSERT INTO audit.chain_tables (chain, relation, key_columns, unique_key, columns)
SELECT t.chain, t.relation, t.key_columns, t.unique_key,
       (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = format('audit.%I', t.relation)::regclass AND attnum > 0 AND NOT attisdropped
           AND NOT (t.chain = 'findings' AND attname NOT IN ('id', 'rule_id', 'account_id', 'dedupe_key', 'first_seen'))
           AND NOT (t.chain = 'exports' AND attname NOT IN ('id', 'account_id', 'report', 'descr', 'starttm', 'endtm',
                                                           'requested_at')))
  FROM (VALUES
        ('api_calls', 'api_calls', ARRAY['id'], NULL::text[]),
        ('ledger_entries', 'ledger_entry_versions', ARRAY['ledger_id', 'version'], ARRAY['account_id', 'ledger_id', 'version']),
        ('trades', 'trade_versions', ARRAY['txid', 'version'], ARRAY['account_id', 'txid', 'version']),
        ('orders', 'order_versions', ARRAY['txid', 'version'], ARRAY['account_id', 'txid', 'version']),
        ('withdrawals', 'withdrawal_versions', ARRAY['refid', 'version'], ARRAY['account_id', 'refid', 'version']),
        ('deposits', 'deposit_versions', ARRAY['refid', 'version'], ARRAY['account_id', 'refid', 'version']),
        ('balances', 'balances', ARRAY['snapshot_at', 'asset'], ARRAY['account_id', 'snapshot_at', 'asset']),
        ('status_history', 'status_history', ARRAY['entity', 'entity_id', 'id'], NULL),
        ('finding_events', 'finding_events', ARRAY['finding_id', 'id'], NULL),
        ('source_mismatches', 'source_mismatches', ARRAY['entity', 'entity_id', 'field', 'id'],
         ARRAY['account_id', 'entity', 'entity_id', 'field', 'export_value', 'api_value']),
        ('api_key_snapshots', 'api_key_snapshots', ARRAY['key_fingerprint', 'id'], NULL),
        ('findings', 'findings', ARRAY['rule_id', 'id'], ARRAY['dedupe_key']),
        ('exports', 'exports', ARRAY['report', 'descr'], ARRAY['descr'])
       ) AS t(chain, relation, key_columns, unique_key);

-- Encoding v1 of one value as a field (see the header). `v` is an SQL expression, `type` its column type.
CREATE FUNCTION audit.chain_field_sql(v text, type regtype) RETURNS text
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT format('CASE WHEN (%1$s) IS NULL THEN ''\xffffffff''::bytea ELSE int4send(octet_length(%2$s)) || %2$s END', v,
        CASE WHEN type IN ('text'::regtype, 'character varying'::regtype) THEN format('convert_to(%s, ''UTF8'')', v)
             WHEN type IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype, 'numeric'::regtype)
                 THEN format('convert_to((%s)::text, ''UTF8'')', v)
             WHEN type = 'boolean'::regtype THEN format('convert_to(CASE WHEN %s THEN ''t'' ELSE ''f'' END, ''UTF8'')', v)
             WHEN type = 'timestamp with time zone'::regtype
                 THEN format('int8send((extract(epoch FROM %s) * 1000000)::bigint)', v)
             WHEN type = 'double precision'::regtype THEN format('float8send(%s)', v)
             WHEN type = 'jsonb'::regtype THEN format('convert_to((%s)::text, ''UTF8'')', v)
             WHEN type = 'bytea'::regtype THEN v
             WHEN type::text LIKE '%[]' THEN format('convert_to(to_jsonb(%s)::text, ''UTF8'')', v)
        END)
$$;

-- The encoding and column-digest expressions of a chain over a row variable `r` (NULL for an unknown type: the
-- trigger generator below refuses it, so a column type without a defined encoding cannot slip in).
CREATE FUNCTION audit.chain_encoding_sql(p_chain text, r text) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT format('''\x00000001''::bytea || %s || %s || %s || %s', audit.chain_field_sql(quote_literal(t.chain), 'text'),
                  audit.chain_field_sql(r || '.chain_account', 'integer'), audit.chain_field_sql(r || '.chain_pos', 'bigint'),
                  audit.chain_field_sql(r || '.chained_at', 'timestamptz'))
           || string_agg(' || ' || audit.chain_field_sql(r || '.' || quote_ident(c.col), a.atttypid::regtype), '' ORDER BY c.n)
      FROM audit.chain_tables t
      CROSS JOIN LATERAL unnest(t.columns) WITH ORDINALITY AS c(col, n)
      JOIN pg_attribute a ON a.attrelid = format('audit.%I', t.relation)::regclass AND a.attname = c.col
     WHERE t.chain = p_chain
     GROUP BY t.chain
$$;

CREATE FUNCTION audit.chain_digest_sql(p_chain text, r text) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT string_agg(format('substring(sha256(%s) FROM 1 FOR 4)',
                             audit.chain_field_sql(r || '.' || quote_ident(c.col), a.atttypid::regtype)), ' || ' ORDER BY c.n)
      FROM audit.chain_tables t
      CROSS JOIN LATERAL unnest(t.columns) WITH ORDINALITY AS c(col, n)
      JOIN pg_attribute a ON a.attrelid = format('audit.%I', t.relation)::regclass AND a.attname = c.col
     WHERE t.chain = p_chain
$$;

-- Chain columns, the per-chain index, and the append trigger of every chained table.
DO $$
DECLARE
    t record;
    account_expr text;
    conflict_check text;
    encoding_sql text;
    digest_sql text;
BEGIN
    FOR t IN SELECT * FROM audit.chain_tables LOOP
        IF EXISTS (SELECT 1 FROM unnest(t.columns) c
                     JOIN pg_attribute a ON a.attrelid = format('audit.%I', t.relation)::regclass AND a.attname = c
                    WHERE audit.chain_field_sql('x', a.atttypid::regtype) IS NULL) THEN
            RAISE EXCEPTION 'chain %: a column type has no encoding v1', t.chain;
        END IF;
        EXECUTE format('ALTER TABLE audit.%I ADD COLUMN chain_account integer, ADD COLUMN chain_pos bigint, '
                       'ADD COLUMN prev_hash bytea, ADD COLUMN row_hash bytea, ADD COLUMN col_digest bytea, '
                       'ADD COLUMN chained_at timestamptz', t.relation);
        EXECUTE format('CREATE UNIQUE INDEX %I ON audit.%I (chain_account, chain_pos)', t.relation || '_chain', t.relation);
        account_expr := CASE WHEN 'account_id' = ANY (t.columns) THEN 'coalesce(NEW.account_id, 0)'
                             -- A finding's history belongs to the finding's account.
                             WHEN t.chain = 'finding_events'
                                 THEN '(SELECT coalesce(f.account_id, 0) FROM audit.findings f WHERE f.id = NEW.finding_id)'
                             ELSE '0' END;
        conflict_check := CASE WHEN t.unique_key IS NULL THEN ''
            ELSE format('IF EXISTS (SELECT 1 FROM audit.%I x WHERE %s) THEN '
                        -- Placeholders satisfy NOT NULL; the row never reaches the table (the arbiter index finds
                        -- the conflict first, or the INSERT fails on the unique key).
                        'NEW.chain_pos := 0; NEW.prev_hash := ''\x''; NEW.row_hash := ''\x''; '
                        'NEW.chained_at := clock_timestamp(); RETURN NEW; END IF;', t.relation,
                        -- = (indexable) for NOT NULL columns; NULL matches NULL for the others (NULLS NOT DISTINCT).
                        (SELECT string_agg(CASE WHEN a.attnotnull THEN format('x.%1$I = NEW.%1$I', k)
                                                ELSE format('(x.%1$I = NEW.%1$I OR (x.%1$I IS NULL AND NEW.%1$I IS NULL))', k) END,
                                           ' AND ')
                           FROM unnest(t.unique_key) k
                           JOIN pg_attribute a ON a.attrelid = format('audit.%I', t.relation)::regclass AND a.attname = k))
        END;
        encoding_sql := audit.chain_encoding_sql(t.chain, 'NEW');
        digest_sql := audit.chain_digest_sql(t.chain, 'NEW');
        EXECUTE format($f$
            CREATE FUNCTION audit.%1$I() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER
                SET search_path = pg_catalog, audit, pg_temp
                -- The head lookup must use the chain index even when the statistics still say the table is empty
                -- (a first bulk import): a sequential scan per appended row would make an import quadratic.
                SET enable_seqscan = off
            AS $body$
            DECLARE
                last_pos bigint;
                last_hash bytea;
            BEGIN
                NEW.chain_account := %3$s;
                -- One writer per chain at a time, until its transaction ends (a transaction-level advisory lock:
                -- no row is updated per append, so a bulk insert stays linear). The head is the chain's last row,
                -- found through the (chain_account, chain_pos) index; rows inserted earlier by the same statement
                -- are visible here. The unique index would refuse a fork should a writer ever run under a snapshot
                -- older than the lock (REPEATABLE READ): an error, never a silent second branch.
                PERFORM pg_advisory_xact_lock(%7$s, NEW.chain_account);
                -- A row that conflicts with a stored one is not a new fact: the upsert updates (or skips) the stored
                -- row. Checked under the lock, so a concurrent writer of the same key has committed by now.
                %2$s
                SELECT x.chain_pos, x.row_hash INTO last_pos, last_hash
                  FROM audit.%8$I x WHERE x.chain_account = NEW.chain_account ORDER BY x.chain_pos DESC LIMIT 1;
                NEW.chain_pos := coalesce(last_pos, 0) + 1;
                NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000');
                NEW.chained_at := clock_timestamp();
                NEW.row_hash := sha256(NEW.prev_hash || %5$s);
                NEW.col_digest := %6$s;
                RETURN NEW;
            END
            $body$
            $f$, 'chain_append_' || t.chain, conflict_check, account_expr, t.chain, encoding_sql, digest_sql,
                 hashtext('kraken-audit chain ' || t.chain), t.relation);
        -- The head record, once per statement (from the rows it inserted).
        EXECUTE format($f$
            CREATE FUNCTION audit.%1$I() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER
                SET search_path = pg_catalog, audit, pg_temp
            AS $body$
            BEGIN
                INSERT INTO audit.chain_heads AS h (account_id, chain, position, head_hash, first_at, last_at)
                SELECT DISTINCT ON (chain_account) chain_account, %2$L, chain_pos, row_hash, chained_at, chained_at
                  FROM appended WHERE chain_pos > 0 ORDER BY chain_account, chain_pos DESC
                ON CONFLICT (account_id, chain) DO UPDATE
                   SET position = EXCLUDED.position, head_hash = EXCLUDED.head_hash, last_at = EXCLUDED.last_at,
                       first_at = coalesce(h.first_at, EXCLUDED.first_at)
                 WHERE h.position < EXCLUDED.position;
                RETURN NULL;
            END
            $body$
            $f$, 'chain_head_' || t.chain, t.chain);
        EXECUTE format('REVOKE ALL ON FUNCTION audit.%I() FROM PUBLIC', 'chain_head_' || t.chain);
        EXECUTE format('REVOKE ALL ON FUNCTION audit.%I() FROM PUBLIC', 'chain_append_' || t.chain);
    END LOOP;
END
$$;

-- A running hash: chain_hash_run(enc) OVER (ORDER BY chain_pos ROWS UNBOUNDED PRECEDING) is each link's row_hash
-- (the frame only grows, so PostgreSQL carries the state along: one pass, no recursion).
CREATE FUNCTION audit.chain_hash_step(state bytea, enc bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE
AS $$ SELECT sha256(coalesce(state, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) || enc) $$;
CREATE AGGREGATE audit.chain_hash_run(bytea) (SFUNC = audit.chain_hash_step, STYPE = bytea);

-- Chain the rows stored before this migration, account by account in their stored order.
CREATE FUNCTION audit.chain_existing_rows(p_chain text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, audit, pg_temp
AS $$
DECLARE
    t audit.chain_tables;
    order_by text;
    n bigint;
BEGIN
    SELECT * INTO t FROM audit.chain_tables WHERE chain = p_chain;
    order_by := CASE WHEN 'id' = ANY (t.columns) THEN 'id'
                     WHEN 'first_seen_at' = ANY (t.columns) THEN 'first_seen_at, version, ' || quote_ident(t.key_columns[1])
                     ELSE (SELECT string_agg(quote_ident(c), ', ') FROM unnest(t.key_columns) c) END;
    -- Positions first, then the hashes in position order (each link's hash needs the one before).
    EXECUTE format('UPDATE audit.%1$I x SET chain_account = o.acct, chain_pos = o.pos, chained_at = now()
                      FROM (SELECT ctid, %2$s AS acct, row_number() OVER (PARTITION BY %2$s ORDER BY %3$s) AS pos
                              FROM audit.%1$I r) o
                     WHERE x.ctid = o.ctid',
                   t.relation,
                   CASE WHEN 'account_id' = ANY (t.columns) THEN 'coalesce(r.account_id, 0)'
                        WHEN t.chain = 'finding_events'
                            THEN '(SELECT coalesce(f.account_id, 0) FROM audit.findings f WHERE f.id = r.finding_id)'
                        ELSE '0' END,
                   order_by);
    EXECUTE format('UPDATE audit.%1$I x SET row_hash = h.row_hash, col_digest = h.dig,
                           prev_hash = coalesce(h.prev_hash, ''\x0000000000000000000000000000000000000000000000000000000000000000''::bytea)
                      FROM (SELECT ctid, row_hash, dig, lag(row_hash) OVER (PARTITION BY chain_account ORDER BY chain_pos) AS prev_hash
                              FROM (SELECT ctid, chain_account, chain_pos, dig,
                                           audit.chain_hash_run(enc) OVER (PARTITION BY chain_account ORDER BY chain_pos
                                                                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS row_hash
                                      FROM (SELECT ctid, chain_account, chain_pos, %2$s AS enc, %3$s AS dig FROM audit.%1$I r) e) hh) h
                     WHERE x.ctid = h.ctid',
                   t.relation, audit.chain_encoding_sql(t.chain, 'r'), audit.chain_digest_sql(t.chain, 'r'));
    EXECUTE format('INSERT INTO audit.chain_heads (account_id, chain, position, head_hash, first_at, last_at)
                    SELECT DISTINCT ON (chain_account) chain_account, %L, chain_pos, row_hash, chained_at, chained_at
                      FROM audit.%I ORDER BY chain_account, chain_pos DESC', p_chain, t.relation);
    EXECUTE format('SELECT count(*) FROM audit.%I', t.relation) INTO n;
    RETURN n;
END
$$;

-- findings and exports: the chained (creation) columns never change, and rows are never removed.
CREATE FUNCTION audit.refuse_chained_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, audit, pg_temp
AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on %.% refused: the table is append-only (each row''s creation is hash-chained audit evidence)',
                TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'raise_exception', DETAIL = format('row id %s (migration 0012)', to_jsonb(OLD) ->> 'id'),
                  HINT = 'Findings are resolved or suppressed, never removed; corrections are appended as new rows.';
    END IF;
    SELECT string_agg(c, ', ') INTO changed
      FROM audit.chain_tables t, unnest(t.columns || ARRAY['chain_account', 'chain_pos', 'prev_hash', 'row_hash', 'col_digest', 'chained_at']) c
     WHERE t.relation = TG_TABLE_NAME AND to_jsonb(OLD) -> c IS DISTINCT FROM to_jsonb(NEW) -> c;
    IF changed IS NOT NULL THEN
        RAISE EXCEPTION 'UPDATE of % on %.% refused: these columns record the row''s creation and are hash-chained',
                changed, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'raise_exception', DETAIL = format('row id %s (migration 0012)', to_jsonb(OLD) ->> 'id'),
                  HINT = 'Only the workflow columns (status, triage, last seen, export progress) change after creation.';
    END IF;
    RETURN NEW;
END
$$;

DO $$
DECLARE
    t record;
    total bigint := 0;
    protected boolean;
BEGIN
    FOR t IN SELECT * FROM audit.chain_tables ORDER BY chain LOOP
        protected := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = format('audit.%I', t.relation)::regclass
                                                      AND tgname = 'append_only_rows');
        IF protected THEN
            EXECUTE format('ALTER TABLE audit.%I DISABLE TRIGGER append_only_rows', t.relation);
        END IF;
        total := total + audit.chain_existing_rows(t.chain);
        IF protected THEN
            EXECUTE format('ALTER TABLE audit.%I ENABLE TRIGGER append_only_rows', t.relation);
        END IF;
        EXECUTE format('CREATE TRIGGER chain_append BEFORE INSERT ON audit.%I FOR EACH ROW EXECUTE FUNCTION audit.%I()',
                       t.relation, 'chain_append_' || t.chain);
        EXECUTE format('CREATE TRIGGER chain_head AFTER INSERT ON audit.%I REFERENCING NEW TABLE AS appended '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit.%I()', t.relation, 'chain_head_' || t.chain);
        EXECUTE format('ALTER TABLE audit.%I ALTER COLUMN chain_account SET NOT NULL, ALTER COLUMN chain_pos SET NOT NULL, '
                       'ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN row_hash SET NOT NULL, '
                       'ALTER COLUMN chained_at SET NOT NULL', t.relation);
    END LOOP;
    INSERT INTO audit.integrity_state (chains_since, rows_at_start) VALUES (now(), total);
END
$$;
DROP FUNCTION audit.chain_existing_rows(text);

CREATE TRIGGER chained_columns BEFORE UPDATE OR DELETE ON audit.findings
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_chained_change();
CREATE TRIGGER chained_columns BEFORE UPDATE OR DELETE ON audit.exports
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_chained_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.findings
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit.exports
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_append_only_change();

REVOKE ALL ON audit.chain_heads, audit.chain_tables, audit.integrity_state, audit.digests, audit.integrity_verifications,
    audit.integrity_problems FROM kraken_audit_writer;
GRANT SELECT, INSERT ON audit.integrity_verifications, audit.integrity_problems TO kraken_audit_writer;
GRANT SELECT ON audit.chain_heads, audit.chain_tables, audit.integrity_state TO kraken_audit_writer;
GRANT UPDATE (last_full_verify) ON audit.integrity_state TO kraken_audit_writer;
GRANT SELECT, INSERT ON audit.digests TO kraken_audit_writer;
