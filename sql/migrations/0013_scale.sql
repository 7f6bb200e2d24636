-- 0013: several runners on one database, one connection pool per process (issue 18).
--
-- 1. A key's call is serialised by a lease row instead of a session advisory lock held across the HTTP call, so a
--    call in flight pins no database connection (a process shares a small pool among all its accounts).
--    audit.take_call grants budget, nonce AND the key's call lease in one step; audit.end_call returns the lease.
--    The lease names its holder (a process: the bigint key of a session advisory lock its session connection
--    holds) and a token (one paced client). Another caller waits while the lease is unexpired and its holder
--    alive; a holder whose session ended (killed process) is detected at once with pg_try_advisory_xact_lock,
--    a stalled one loses the lease when it expires (the HTTP timeout plus a margin).
-- 2. Nights: runners started together share one night; each account is collected once per night by whichever
--    runner leases it (a session advisory lock on (0x6B61_0001, account id)), recorded in audit.night_accounts;
--    the runner that completes the night does the verify, analysis, report, alerts and seal.

ALTER TABLE audit.api_keys
    ADD COLUMN call_holder bigint,
    ADD COLUMN call_token uuid,
    ADD COLUMN call_lease_until timestamptz;
COMMENT ON COLUMN audit.api_keys.call_holder IS 'Process holding the key''s call lease (its session advisory lock key); NULL when no call is in flight.';
COMMENT ON COLUMN audit.api_keys.call_token IS 'Paced client holding the key''s call lease.';
COMMENT ON COLUMN audit.api_keys.call_lease_until IS 'When the call lease lapses if its holder never returns it (HTTP timeout plus a margin).';

-- The lease-less version goes: one way to take a nonce, so a binary of an older version fails loudly instead of
-- calling beside a newer one without the lease.
DROP FUNCTION audit.take_call(text, double precision, double precision, double precision, bigint);

CREATE FUNCTION audit.take_call(
    p_fingerprint text, p_cost double precision, p_max double precision, p_decay double precision,
    p_now_ms bigint, p_holder bigint, p_token uuid, p_lease_seconds double precision
) RETURNS TABLE (nonce bigint, wait_seconds double precision, counter double precision, locked boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, audit, pg_temp   -- whoever calls it (migration 0007)
AS $$
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
    current := GREATEST(0, k.counter_value - p_decay * GREATEST(0, EXTRACT(EPOCH FROM (now_ts - k.counter_updated_at))));
    IF k.lockout_until IS NOT NULL AND k.lockout_until > now_ts THEN
        RETURN QUERY SELECT NULL::bigint, EXTRACT(EPOCH FROM (k.lockout_until - now_ts))::double precision, current, true;
        RETURN;
    END IF;
    -- Another call of this key is in flight: its nonce is lower, so ours must not reach Kraken first.
    -- (Holder alive = its session still holds its advisory lock, so the exclusive try fails.)
    IF k.call_token IS NOT NULL AND k.call_token <> p_token AND k.call_lease_until > now_ts
       AND (k.call_holder = p_holder OR NOT pg_try_advisory_xact_lock(k.call_holder)) THEN
        RETURN QUERY SELECT NULL::bigint,
            LEAST(0.02, EXTRACT(EPOCH FROM (k.call_lease_until - now_ts)))::double precision, current, false;
        RETURN;
    END IF;
    IF current + p_cost > p_max THEN
        RETURN QUERY SELECT NULL::bigint, ((current + p_cost - p_max) / p_decay)::double precision, current, false;
        RETURN;
    END IF;
    UPDATE audit.api_keys
       SET counter_value = current + p_cost, counter_updated_at = now_ts,
           last_nonce = GREATEST(last_nonce + 1, p_now_ms), last_used_at = now_ts,
           call_holder = p_holder, call_token = p_token,
           call_lease_until = now_ts + make_interval(secs => p_lease_seconds)
     WHERE id = k.id
    RETURNING last_nonce INTO taken;
    RETURN QUERY SELECT taken, 0::double precision, current + p_cost, false;
END
$$;
COMMENT ON FUNCTION audit.take_call(text, double precision, double precision, double precision, bigint, bigint, uuid, double precision)
    IS 'Atomically takes rate budget, the next nonce and the key''s call lease (returned by audit.end_call).';

-- Returns the lease; when the call was sent, the counter estimate is moved to now (the decay of the time in
-- flight is never counted: Kraken charged the call when it arrived). False when the lease was no longer ours.
CREATE FUNCTION audit.end_call(p_fingerprint text, p_token uuid, p_sent boolean) RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, audit, pg_temp
AS $$
    WITH ended AS (
        UPDATE audit.api_keys
           SET call_holder = NULL, call_token = NULL, call_lease_until = NULL,
               counter_updated_at = CASE WHEN p_sent THEN GREATEST(counter_updated_at, clock_timestamp())
                                         ELSE counter_updated_at END
         WHERE key_fingerprint = p_fingerprint AND call_token = p_token
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM ended);
$$;
COMMENT ON FUNCTION audit.end_call IS 'Returns a key''s call lease taken by audit.take_call.';
REVOKE EXECUTE ON FUNCTION audit.take_call(text, double precision, double precision, double precision, bigint, bigint, uuid, double precision) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit.end_call(text, uuid, boolean) FROM PUBLIC;

CREATE TABLE audit.nights (
    id              bigserial PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    -- The account names the night covers (the runners' selection: all configured accounts, or --account).
    accounts        text[] NOT NULL,
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'finishing', 'finished', 'abandoned')),
    finisher_run_id bigint REFERENCES audit.collector_runs (id),
    finished_at     timestamptz
);
COMMENT ON TABLE audit.nights IS 'Nightly runs shared by several kraken-audit run processes (issue 18); one report per night.';

CREATE TABLE audit.night_accounts (
    night_id         bigint NOT NULL REFERENCES audit.nights (id),
    account_id       integer NOT NULL REFERENCES audit.accounts (id),
    run_id           bigint NOT NULL REFERENCES audit.collector_runs (id),
    collector_run_id bigint REFERENCES audit.collector_runs (id),
    status           text NOT NULL CHECK (status IN ('success', 'failed', 'interrupted')),
    finished_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (night_id, account_id)
);
COMMENT ON TABLE audit.night_accounts IS 'Which runner (run_id) collected each account in a night, and how it ended.';

-- 3. Account-local joins (README "Scaling": distribution by account_id needs every join to carry it). A key is
--    registered for one account, so the results do not change.
CREATE OR REPLACE VIEW kraken.api_calls AS
SELECT c.id AS call_id, c.started_at, c.account_id, a.name AS account, c.key_fingerprint, k.name AS key_name,
       c.endpoint, c.nonce, c.http_status, c.error_kind, c.errors, c.retry, c.duration_ms, c.bytes,
       c.counter_after, c.run_id
  FROM audit.api_calls c
  LEFT JOIN audit.accounts a ON a.id = c.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = c.key_fingerprint AND k.account_id = c.account_id;

CREATE OR REPLACE VIEW kraken.api_usage_hourly AS
SELECT date_trunc('hour', c.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       c.account_id, a.name AS account, c.key_fingerprint, k.name AS key_name, c.endpoint,
       count(*) AS calls,
       count(*) FILTER (WHERE c.error_kind IS NULL) AS ok_calls,
       count(*) FILTER (WHERE c.error_kind IS NOT NULL) AS errors,
       count(*) FILTER (WHERE c.error_kind = 'invalidNonce') AS nonce_errors,
       count(*) FILTER (WHERE c.error_kind IN ('rateLimited', 'throttled', 'temporaryLockout')) AS rate_limit_errors,
       count(*) FILTER (WHERE c.error_kind IN ('permissionDenied', 'invalidKey', 'invalidSignature', 'accountProblem')) AS auth_errors,
       count(*) FILTER (WHERE c.error_kind IN ('http', 'timeout', 'transport', 'transient', 'malformed')) AS transport_errors,
       count(*) FILTER (WHERE c.error_kind IS NOT NULL
                          AND c.error_kind NOT IN ('invalidNonce', 'rateLimited', 'throttled', 'temporaryLockout',
                                                   'permissionDenied', 'invalidKey', 'invalidSignature', 'accountProblem',
                                                   'http', 'timeout', 'transport', 'transient', 'malformed')) AS other_errors,
       coalesce((SELECT jsonb_object_agg(e.kind, e.n)
                   FROM (SELECT x.kind, count(*) AS n FROM unnest(array_agg(c.error_kind)) AS x(kind)
                          WHERE x.kind IS NOT NULL GROUP BY x.kind) e), '{}'::jsonb) AS errors_by_kind,
       count(*) FILTER (WHERE c.retry > 0) AS retries,
       avg(c.duration_ms) AS avg_duration_ms,
       max(c.duration_ms) AS max_duration_ms,
       sum(c.bytes) AS bytes,
       max(c.counter_after) AS max_counter
  FROM audit.api_calls c
  LEFT JOIN audit.accounts a ON a.id = c.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = c.key_fingerprint AND k.account_id = c.account_id
 GROUP BY 1, 2, 3, 4, 5, 6;

CREATE OR REPLACE VIEW kraken.api_key_snapshots AS
SELECT s.id AS snapshot_id, s.observed_at, s.account_id, a.name AS account, s.key_fingerprint, k.name AS key_name,
       s.key_name AS kraken_key_name, s.permissions, s.ip_allowlist, s.nonce_window, s.valid_until, s.query_from,
       s.query_to, s.created_time, s.modified_time, s.last_used, s.nonce, s.request_nonce, s.run_id,
       s.api_call_id AS call_id
  FROM audit.api_key_snapshots s
  JOIN audit.accounts a ON a.id = s.account_id
  LEFT JOIN audit.api_keys k ON k.key_fingerprint = s.key_fingerprint AND k.account_id = s.account_id;
