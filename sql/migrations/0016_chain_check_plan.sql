-- 0016: the statement check of bulk chain appends (migration 0014) in linear time (issue 18).
--
-- Measured (EXPLAIN ANALYZE through auto_explain, 1,000,000 ledger rows appended in 20 statements of 50,000): the
-- check "the first row continues the chain" was written as NOT EXISTS inside a CASE. PostgreSQL cannot turn that
-- into an anti-join, so it planned a *hashed* subplan: every statement read the whole chained table to build the
-- hash, and an import's statements read 0 + 50,000 + ... + 950,000 rows: 10 s of the 37 s the appends took, and
-- quadratic in the history. A scalar subquery on (chain_account, chain_pos) is never hashed: one index probe, for
-- the first row only. The same statement also spent ~0.3 s per execution compiling JIT code (the planner's cost
-- estimate for the subplans crossed jit_above_cost) to check 50,000 rows in 60 ms: jit is off for these functions.
-- And, as for 0012's row trigger, enable_seqscan is off in these functions so the probe stays an index probe
-- whatever the statistics say (the transition table is not a table scan and is not affected).
-- Same checks, same messages, same lock; only these points differ from 0014.

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
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION audit.%1$I() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER
                SET search_path = pg_catalog, audit, pg_temp
                SET jit = off
                SET enable_seqscan = off
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
                                WHEN r.lag_pos IS NULL AND r.chain_pos > 1 AND (
                                         SELECT x.row_hash FROM audit.%2$I x WHERE x.chain_account = r.chain_account
                                            AND x.chain_pos = r.chain_pos - 1) IS DISTINCT FROM r.prev_hash
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
