-- Question: which API keys got errors from Kraken, on which days (UTC), and of what kind? Nonce errors hint
--           at a second client using the key; auth errors at changed permissions or a revoked key.
-- Reads:    kraken.api_usage_hourly
-- Parameters (psql -v name=value; all optional):
--   as_of    end of the window, a timestamptz (default: now)
--   days     length of the window in days (default: 30)
-- Output:   only days with at least one error.
-- Run:      psql -X -v days=7 -f sql/queries/api_errors_per_key_per_day.sql
\if :{?as_of}
\else
  \set as_of now
\endif
\if :{?days}
\else
  \set days 30
\endif

SELECT (u.hour AT TIME ZONE 'UTC')::date AS day, u.account, u.key_name, u.key_fingerprint,
       sum(u.calls) AS calls, sum(u.errors) AS errors,
       round(100.0 * sum(u.errors) / sum(u.calls), 1) AS error_pct,
       sum(u.nonce_errors) AS nonce_errors, sum(u.rate_limit_errors) AS rate_limit_errors,
       sum(u.auth_errors) AS auth_errors, sum(u.transport_errors) AS transport_errors,
       sum(u.other_errors) AS other_errors,
       string_agg(DISTINCT u.endpoint, ', ' ORDER BY u.endpoint) FILTER (WHERE u.errors > 0) AS endpoints_with_errors
  FROM kraken.api_usage_hourly u
 WHERE u.hour > :'as_of'::timestamptz - make_interval(days => :'days'::integer)
   AND u.hour <= :'as_of'::timestamptz
 GROUP BY 1, 2, 3, 4
HAVING sum(u.errors) > 0
 ORDER BY 1 DESC, errors DESC, 2, 3;
