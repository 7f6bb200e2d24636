-- Collector support: one atomic step that takes a call slot for an API key (rate budget + nonce), shared by
-- every kraken-audit process using that key (../shared/kraken-api.md §1.4, §5).

-- Takes a call of `p_cost` counter points for the key if Kraken's counter (as estimated here, decaying at
-- p_decay per second on the database clock) stays within p_max; returns the nonce to use.
-- Otherwise returns nonce NULL and how long to wait (seconds). A key under lockout returns locked = true.
CREATE FUNCTION audit.take_call(
    p_fingerprint text, p_cost double precision, p_max double precision, p_decay double precision,
    p_now_ms bigint
) RETURNS TABLE (nonce bigint, wait_seconds double precision, counter double precision, locked boolean)
LANGUAGE plpgsql AS $$
DECLARE
    k        audit.api_keys%ROWTYPE;
    now_ts   timestamptz := clock_timestamp();
    current  double precision;
    taken    bigint;
BEGIN
    SELECT * INTO k FROM audit.api_keys WHERE key_fingerprint = p_fingerprint FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'API key % is not registered', p_fingerprint USING ERRCODE = 'P0002';
    END IF;
    -- A database clock that stepped back only makes the estimate more conservative.
    current := GREATEST(0, k.counter_value - p_decay * GREATEST(0, EXTRACT(EPOCH FROM (now_ts - k.counter_updated_at))));
    IF k.lockout_until IS NOT NULL AND k.lockout_until > now_ts THEN
        RETURN QUERY SELECT NULL::bigint, EXTRACT(EPOCH FROM (k.lockout_until - now_ts))::double precision, current, true;
        RETURN;
    END IF;
    IF current + p_cost > p_max THEN
        RETURN QUERY SELECT NULL::bigint, ((current + p_cost - p_max) / p_decay)::double precision, current, false;
        RETURN;
    END IF;
    UPDATE audit.api_keys
       SET counter_value = current + p_cost, counter_updated_at = now_ts,
           last_nonce = GREATEST(last_nonce + 1, p_now_ms), last_used_at = now_ts
     WHERE id = k.id
    RETURNING last_nonce INTO taken;
    RETURN QUERY SELECT taken, 0::double precision, current + p_cost, false;
END
$$;
COMMENT ON FUNCTION audit.take_call IS 'Atomically takes rate budget and the next nonce for an API key (collector pacing).';

-- Kraken said the counter is over its max: believe it.
CREATE FUNCTION audit.counter_exceeded(p_fingerprint text, p_max double precision) RETURNS void
LANGUAGE sql AS $$
    UPDATE audit.api_keys SET counter_value = GREATEST(counter_value, p_max), counter_updated_at = clock_timestamp()
     WHERE key_fingerprint = p_fingerprint;
$$;

CREATE INDEX api_calls_run ON audit.api_calls (run_id);
CREATE INDEX collector_runs_status ON audit.collector_runs (account_id, status, finished_at DESC);
