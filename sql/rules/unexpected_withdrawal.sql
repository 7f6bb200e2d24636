-- id: unexpected_withdrawal
-- title: Unexpected withdrawal
-- severity: high
-- entity: withdrawal
-- input: collected
-- param: allowlist destinations {} | Allowed destination addresses per asset (WithdrawStatus info), e.g. {XXBT = ["bc1q..."], XETH = ["0x..."]}; an entry { address = "0x...", name = "eth-ledger" } also requires that address-book name. Matched by address only (0x hex case-insensitively, others exactly): address-book names are chosen by whoever controls the account, so a bare name is refused. Empty: the destination is not checked. With a non-empty allowlist, an asset missing from it has no allowed destination.
-- param: max_amount asset_decimals {} | Per-asset amount above which any withdrawal is reported (high), e.g. {XXBT = "2.5"}.
-- param: velocity_24h asset_decimals {} | Per-asset limit for the total withdrawn in the 24 h ending with a withdrawal (high).
-- param: max_count_24h integer 3 | Report (medium) a withdrawal that makes more than this many withdrawals of the asset in the 24 h ending with it: a burst, whatever the amounts. 0: no limit.
-- param: history_factor number 10 | Report (medium) a withdrawal larger than this many times the median of the account's previous withdrawals of the asset.
-- param: history_size positive_integer 50 | How many previous withdrawals of the asset form that median.
-- param: min_history integer 5 | Previous withdrawals of the asset needed before history_factor applies.
-- param: new_asset_severity severity "low" | Severity of the first withdrawal of an asset never withdrawn before ("off" to skip it).
-- catches: a withdrawal (ledger entry of type withdrawal joined with its WithdrawStatus record by refid) to a
--   destination not in the allowlist, above a per-asset limit, far above the account's own history, of an asset
--   never withdrawn before, pushing the 24 h total above a per-asset limit, or one of a burst of withdrawals
--   (more than max_count_24h of the asset within 24 h: small amounts to known addresses that no amount limit
--   catches, as when a taken-over account is drained in steps). One finding per withdrawal (refid) listing
--   every reason; the severity is the highest reason's.
--   The destination is judged by its address alone: an attacker's address saved under an allowlisted name
--   (re-pointed address-book entry) is reported like any other unknown address.
-- false positives: a new address that was approved but not yet added to the allowlist; batch payouts (raise
--   max_count_24h); ledger-only withdrawals older than WithdrawStatus's look-back have no recorded destination
--   (reported as low when an allowlist is set, as is a record with an address-book name but no address); the
--   first withdrawal of each asset in a new account (low by default).
WITH params AS (
    SELECT :'allowlist'::jsonb AS allowlist, :'max_amount'::jsonb AS max_amount,
           :'velocity_24h'::jsonb AS velocity, :'history_factor'::numeric AS history_factor,
           :'history_size'::integer AS history_size, :'min_history'::integer AS min_history,
           :'new_asset_severity'::text AS new_asset_severity, :'max_count_24h'::integer AS max_count_24h
),
scope AS (
    -- Withdrawals changed since the last analysis, one row per refid: ledger entries and WithdrawStatus records.
    SELECT l.refid
      FROM audit.ledger_entries l
     WHERE l.account_id = :'account_id'::integer AND l.type = 'withdrawal' AND l.amount < 0 AND l.refid IS NOT NULL
       AND l.updated_at > :'changed_after'::timestamptz AND l.time >= :'occurred_after'::timestamptz
    UNION
    SELECT w.refid
      FROM audit.withdrawals w
     WHERE w.account_id = :'account_id'::integer
       AND w.updated_at > :'changed_after'::timestamptz AND w.time >= :'occurred_after'::timestamptz
),
wd AS (
    SELECT s.refid, coalesce(l.time, w.time) AS time, coalesce(l.asset, w.asset) AS asset,
           coalesce(-l.amount, w.amount) AS amount, coalesce(l.fee, w.fee) AS fee,
           l.ledger_id, w.info AS address, w.key AS address_name, w.status, w.status_prop, w.method, w.network,
           w.txid
      FROM scope s
      LEFT JOIN LATERAL (
            SELECT * FROM audit.ledger_entries l
             WHERE l.account_id = :'account_id'::integer AND l.refid = s.refid AND l.type = 'withdrawal'
               AND l.amount < 0
             ORDER BY l.time LIMIT 1) l ON true
      LEFT JOIN audit.withdrawals w ON w.account_id = :'account_id'::integer AND w.refid = s.refid
),
history AS (
    -- Earlier withdrawals of the same asset (ledger and WithdrawStatus merged by refid), newest first.
    SELECT wd.refid, h.n, h.median
      FROM wd, params p,
      LATERAL (
            SELECT count(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY u.amount) AS median
              FROM (SELECT DISTINCT ON (x.refid) x.refid, x.amount
                      FROM ((SELECT l.refid, -l.amount AS amount
                               FROM audit.ledger_entries l
                              WHERE l.account_id = :'account_id'::integer AND l.type = 'withdrawal'
                                AND l.asset = wd.asset AND l.amount < 0 AND l.time < wd.time
                              ORDER BY l.time DESC LIMIT p.history_size)
                            UNION ALL
                            (SELECT w.refid, w.amount
                               FROM audit.withdrawals w
                              WHERE w.account_id = :'account_id'::integer AND w.asset = wd.asset
                                AND w.time < wd.time AND w.status <> 'Failure'
                              ORDER BY w.time DESC LIMIT p.history_size)) x
                     WHERE x.refid IS DISTINCT FROM wd.refid
                     ORDER BY x.refid) u
      ) h
),
velocity AS (
    -- Total withdrawn of the asset in the 24 h ending with this withdrawal (this one included).
    SELECT wd.refid, v.total, v.n, v.refids
      FROM wd,
      LATERAL (
            SELECT coalesce(sum(u.amount), 0) AS total, count(*) AS n, array_agg(u.refid ORDER BY u.time, u.refid) AS refids
              FROM (SELECT DISTINCT ON (x.refid) x.refid, x.amount, x.time
                      FROM (SELECT l.refid, -l.amount AS amount, l.time
                              FROM audit.ledger_entries l
                             WHERE l.account_id = :'account_id'::integer AND l.type = 'withdrawal'
                               AND l.asset = wd.asset AND l.amount < 0
                               AND l.time > wd.time - interval '24 hours' AND l.time <= wd.time
                            UNION ALL
                            SELECT w.refid, w.amount, w.time
                              FROM audit.withdrawals w
                             WHERE w.account_id = :'account_id'::integer AND w.asset = wd.asset
                               AND w.time > wd.time - interval '24 hours' AND w.time <= wd.time
                               AND w.status <> 'Failure') x
                     ORDER BY x.refid) u
      ) v
),
checks AS (
    SELECT wd.*, h.n AS history_n, h.median AS history_median, v.total AS total_24h, v.n AS count_24h,
           v.refids AS refids_24h,
           p.allowlist <> '{}'::jsonb AS allowlist_on,
           coalesce(p.allowlist -> wd.asset, '[]'::jsonb) AS allowed,
           (p.max_amount ->> wd.asset)::numeric AS limit_amount,
           (p.velocity ->> wd.asset)::numeric AS limit_24h,
           p.history_factor, p.min_history, p.new_asset_severity, p.max_count_24h,
           -- By address only (the name is an extra condition when the entry gives one, never a way in): the
           -- account taker chooses address-book names. 0x hex addresses compare case-insensitively (EIP-55 mixed
           -- case is a checksum), every other address exactly.
           EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(p.allowlist -> wd.asset, '[]'::jsonb)) e
                    WHERE CASE WHEN e ->> 'address' ~ '^0[xX][0-9a-fA-F]+$' THEN lower(e ->> 'address') ELSE e ->> 'address' END
                          = CASE WHEN wd.address ~ '^0[xX][0-9a-fA-F]+$' THEN lower(wd.address) ELSE wd.address END
                      AND (e ->> 'name' IS NULL OR e ->> 'name' = wd.address_name)) AS destination_allowed
      FROM wd
      JOIN history h USING (refid)
      JOIN velocity v USING (refid)
      CROSS JOIN params p
),
reasons AS (
    SELECT c.*,
           array_remove(ARRAY[
               CASE WHEN c.allowlist_on AND c.address IS NOT NULL AND NOT c.destination_allowed
                    THEN 'high:destination not in the allowlist' END,
               CASE WHEN c.limit_amount IS NOT NULL AND c.amount > c.limit_amount
                    THEN format('high:above the %s %s limit', trim_scale(c.limit_amount), c.asset) END,
               CASE WHEN c.limit_24h IS NOT NULL AND c.total_24h > c.limit_24h
                    THEN format('high:24 h total %s %s above the %s %s limit',
                                trim_scale(c.total_24h), c.asset, trim_scale(c.limit_24h), c.asset) END,
               CASE WHEN c.max_count_24h > 0 AND c.count_24h > c.max_count_24h
                    THEN format('medium:%s withdrawals of %s within 24 h (limit %s)', c.count_24h, c.asset,
                                c.max_count_24h) END,
               CASE WHEN c.history_n >= c.min_history AND c.history_median > 0
                         AND c.amount > c.history_factor * c.history_median
                    THEN format('medium:%sx the median of the previous %s withdrawals (%s %s)',
                                round(c.amount / c.history_median, 1), c.history_n,
                                trim_scale(c.history_median), c.asset) END,
               CASE WHEN c.history_n = 0 AND c.new_asset_severity <> 'off'
                    THEN c.new_asset_severity || ':first withdrawal of ' || c.asset END,
               CASE WHEN c.allowlist_on AND c.address IS NULL AND c.address_name IS NULL
                    THEN 'low:no recorded destination (no WithdrawStatus record)' END,
               CASE WHEN c.allowlist_on AND c.address IS NULL AND c.address_name IS NOT NULL
                    THEN 'low:no recorded destination address (only the address-book name, which is not trusted)' END
           ], NULL) AS tagged
      FROM checks c
),
rated AS (
    SELECT r.*,
           (SELECT split_part(t, ':', 1) FROM unnest(r.tagged) t
             ORDER BY audit.severity_rank(split_part(t, ':', 1)) DESC LIMIT 1) AS top_severity,
           ARRAY(SELECT substr(t, strpos(t, ':') + 1) FROM unnest(r.tagged) t
                  ORDER BY audit.severity_rank(split_part(t, ':', 1)) DESC) AS reason_texts
      FROM reasons r
     WHERE cardinality(r.tagged) > 0
)
SELECT :'account_id'::integer AS account_id,
       'withdrawal' AS entity_type,
       r.refid AS entity_id,
       r.top_severity AS severity,
       format('Withdrawal of %s %s to %s: %s, %s %s',
              trim_scale(r.amount), r.asset,
              CASE WHEN r.address_name IS NOT NULL AND r.address IS NOT NULL
                        THEN format('%s (%s)', r.address_name, r.address)
                   ELSE coalesce(r.address_name, r.address, 'an unrecorded destination') END,
              array_to_string(r.reason_texts, '; '),
              to_char(r.time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text) AS title,
       jsonb_build_object(
           'refid', r.refid, 'ledger_id', r.ledger_id, 'asset', r.asset, 'amount', r.amount::text,
           'fee', r.fee::text, 'time', r.time,
           'local_time', to_char(r.time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI:SS') || ' ' || :'timezone'::text,
           'address', r.address, 'address_name', r.address_name, 'method', r.method, 'network', r.network,
           'status', r.status, 'status_prop', r.status_prop, 'txid', r.txid,
           'reasons', to_jsonb(r.reason_texts),
           'allowlist_checked', r.allowlist_on, 'allowed_destinations', r.allowed,
           'limit_amount', r.limit_amount::text, 'limit_24h', r.limit_24h::text,
           'total_24h', r.total_24h::text, 'withdrawals_24h', r.count_24h, 'max_count_24h', r.max_count_24h,
           'refids_24h', to_jsonb(r.refids_24h),
           'history_count', r.history_n, 'history_median', r.history_median::text,
           'history_factor', r.history_factor::text) AS evidence,
       format('unexpected_withdrawal:%s:%s', :'account_id'::integer, r.refid) AS dedupe_key,
       r.time AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM rated r;
