-- Bulk appends to the hash chains (issue 18: the export import of a million ledger rows).
--
-- Migration 0012 chains every row in a BEFORE INSERT trigger: the chain's advisory lock, a head lookup and the
-- SHA-256 of encoding v1, all per row. Measured for 200,000 ledger rows on the project's 2-core machine: 70 µs a
-- row through the trigger, and still ~50 µs a row when the same encoding is computed set-based in SQL (a window
-- over audit.chain_hash_run): the SQL expression for the encoding (each value turned to text, measured and
-- concatenated twice, fourteen SHA-256 calls for col_digest) is the cost, not the trigger's overhead. So a bulk
-- writer computes positions and hashes itself, in the binary (Sources/AuditStore/ChainBulkAppend.swift, with the
-- same code `kraken-audit verify` uses), and sends rows that arrive already linked:
--
-- - The per-row trigger now fires only for rows that arrive without a chain position (WHEN (NEW.chain_pos IS
--   NULL)): every existing writer is unchanged and still chained row by row.
-- - Every INSERT statement, however its rows were linked, is checked at its end (the statement trigger that already
--   kept audit.chain_heads, SECURITY DEFINER, owned by the schema owner), set-based over its transition table and
--   under the same per-chain transaction-level advisory lock the row trigger takes:
--     * chain_account is the row's account (the row trigger's rule);
--     * positions are >= 1, consecutive, and continue the chain: the first one follows the chain's stored row
--       before it (or is 1), and no stored row lies beyond the last one;
--     * prev_hash is the row_hash of the row before it (32 zero bytes at position 1), row_hash is 32 bytes;
--     * chained_at lies between the transaction's start and now (a bulk writer cannot backdate a link);
--   and audit.chain_heads is updated once, from the statement's last link.
--   A statement failing a check is refused as a whole (SQLSTATE P0001), so positions stay unique and gap-free and
--   the heads consistent; the unique index on (chain_account, chain_pos) still refuses a fork.
-- - Not checked at insert: whether row_hash really is SHA-256(prev_hash || encoding v1) and col_digest (recomputing
--   them in SQL is the 50 µs a row this migration removes). `kraken-audit verify` recomputes every hash from the
--   stored values anyway (it trusts nothing computed in the database), so a row appended with a wrong hash is
--   reported there as changed, at its position, and its chain no longer matches a digest that signed it.
--
-- Why this gives the holder of kraken_audit_writer nothing new: that role could already append any plausible fact
-- with a correct link (the row trigger computes it for them), and could already make verify report a problem
-- (it may insert into audit.integrity_problems). Through the bulk path it can do no more: it cannot take a stored
-- position (unique index), leave a gap, link to anything but the chain's head, backdate chained_at, move the head
-- record anywhere but to its own last link, nor change or delete a stored row (append-only triggers); a wrong hash
-- only gets its own row reported. A SECURITY DEFINER bulk function was considered and not chosen: it would have to
-- trust the caller's hashes just the same (or recompute them at the cost above), and a definer function reading
-- rows from a relation its caller controls runs the caller's code (row-security policies, views) as the owner.

DO $$
DECLARE
    t record;
    account_expr text;
BEGIN
    FOR t IN SELECT * FROM audit.chain_tables LOOP
        account_expr := CASE WHEN 'account_id' = ANY (t.columns) THEN 'coalesce(r.account_id, 0)'
                             WHEN t.chain = 'finding_events'
                                 THEN '(SELECT coalesce(f.account_id, 0) FROM audit.findings f WHERE f.id = r.finding_id)'
                             ELSE '0' END;
        EXECUTE format('DROP TRIGGER chain_append ON audit.%I', t.relation);
        EXECUTE format('CREATE TRIGGER chain_append BEFORE INSERT ON audit.%I FOR EACH ROW WHEN (NEW.chain_pos IS NULL) '
                       'EXECUTE FUNCTION audit.%I()', t.relation, 'chain_append_' || t.chain);
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION audit.%1$I() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER
                SET search_path = pg_catalog, audit, pg_temp
            AS $body$
            DECLARE
                bad record;
            BEGIN
                -- The row trigger took the chain's lock for rows it linked; a bulk writer takes it before reading
                -- the head. Taken here in any case (again: a no-op), in account order, so the checks below read
                -- every committed link of the chain and no other writer appends until this transaction ends.
                PERFORM pg_advisory_xact_lock(%3$s, a.chain_account)
                   FROM (SELECT DISTINCT chain_account FROM appended) a ORDER BY a.chain_account;
                SELECT * INTO bad FROM (
                    SELECT r.chain_account, r.chain_pos,
                           CASE WHEN r.chain_account IS DISTINCT FROM %4$s THEN 'chain_account is not the row''s account'
                                WHEN r.chain_pos < 1 THEN 'the position is below 1'
                                WHEN octet_length(r.row_hash) <> 32 OR octet_length(r.prev_hash) <> 32
                                    THEN 'prev_hash and row_hash must be 32 bytes'
                                WHEN r.chained_at < now() OR r.chained_at > clock_timestamp()
                                    THEN 'chained_at is not inside the inserting transaction'
                                WHEN r.lag_pos IS NOT NULL AND r.chain_pos <> r.lag_pos + 1
                                    THEN format('the positions are not consecutive (%%s after %%s)', r.chain_pos, r.lag_pos)
                                WHEN r.lag_pos IS NOT NULL AND r.prev_hash <> r.lag_hash
                                    THEN 'prev_hash is not the row_hash of the position before'
                                WHEN r.lag_pos IS NULL AND r.chain_pos = 1
                                     AND r.prev_hash <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                                    THEN 'position 1 must link to 32 zero bytes'
                                WHEN r.lag_pos IS NULL AND r.chain_pos > 1 AND NOT EXISTS (
                                         SELECT 1 FROM audit.%2$I x WHERE x.chain_account = r.chain_account
                                            AND x.chain_pos = r.chain_pos - 1 AND x.row_hash = r.prev_hash)
                                    THEN 'it does not continue the chain (no stored row before it with that hash)'
                                WHEN r.lead_pos IS NULL AND EXISTS (
                                         SELECT 1 FROM audit.%2$I x WHERE x.chain_account = r.chain_account
                                            AND x.chain_pos > r.chain_pos)
                                    THEN 'a stored row lies beyond the statement''s last position'
                           END AS problem
                      FROM (SELECT r.*, lag(r.chain_pos) OVER w AS lag_pos, lag(r.row_hash) OVER w AS lag_hash,
                                   lead(r.chain_pos) OVER w AS lead_pos
                              FROM appended r WINDOW w AS (PARTITION BY r.chain_account ORDER BY r.chain_pos)) r
                    ) c
                 WHERE c.problem IS NOT NULL
                 ORDER BY c.chain_account, c.chain_pos
                 LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'append to hash chain %% refused: account %%, position %%: %%', %5$L, bad.chain_account,
                            bad.chain_pos, bad.problem
                        USING ERRCODE = 'raise_exception',
                              HINT = 'Insert rows without chain_pos (the trigger links them), or link them as '
                                     'migration 0014 describes: after the chain''s head, under its lock.';
                END IF;
                -- The head record, once per statement (from the rows it inserted).
                INSERT INTO audit.chain_heads AS h (account_id, chain, position, head_hash, first_at, last_at)
                SELECT DISTINCT ON (chain_account) chain_account, %5$L, chain_pos, row_hash, chained_at, chained_at
                  FROM appended WHERE chain_pos > 0 ORDER BY chain_account, chain_pos DESC
                ON CONFLICT (account_id, chain) DO UPDATE
                   SET position = EXCLUDED.position, head_hash = EXCLUDED.head_hash, last_at = EXCLUDED.last_at,
                       first_at = coalesce(h.first_at, EXCLUDED.first_at)
                 WHERE h.position < EXCLUDED.position;
                RETURN NULL;
            END
            $body$
            $f$, 'chain_head_' || t.chain, t.relation, hashtext('kraken-audit chain ' || t.chain), account_expr, t.chain);
        EXECUTE format('REVOKE ALL ON FUNCTION audit.%I() FROM PUBLIC', 'chain_head_' || t.chain);
    END LOOP;
END
$$;

-- The lock key of a chain, as the triggers compute it (for bulk writers: take it before reading the head).
CREATE FUNCTION audit.chain_lock_key(p_chain text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashtext('kraken-audit chain ' || p_chain) $$;
COMMENT ON FUNCTION audit.chain_lock_key(text) IS
    'The first key of the transaction-level advisory lock that serialises appends to a hash chain (the second is the account; migration 0014).';
