-- id: withdrawal_address_changed
-- title: Withdrawal address-book entry changed
-- severity: high
-- entity: withdrawal
-- input: collected
-- param: allowlist destinations {} | Trusted destination addresses per asset, as for unexpected_withdrawal; unset: the [rules.unexpected_withdrawal] allowlist (one list for both rules). Decides the severity of a re-pointed name (low when the new address is allowlisted) and which renames are reported (allowlisted addresses only).
-- catches: an address-book name (WithdrawStatus key) seen with a different destination address (info) than
--   before for the same asset: a re-pointed entry, the classic way to make a payout to an attacker look familiar
--   ("cold-wallet" as always, but a new address). High, or low when the new address is in the allowlist. Also an
--   allowlisted address that appears under a new name (info): harmless by itself, but a relabelled trusted
--   destination is worth knowing about. One finding per asset, name and new address (re-pointed), or per asset,
--   address and new name (renamed); evidence: the name, the old and new addresses, when each was first and last
--   seen and the withdrawals involved. Addresses compare like the allowlist's: 0x hex case-insensitively,
--   others exactly. Failed withdrawals count too (an attempt is evidence of the change).
-- false positives: the operator moved a wallet and kept its address-book name (add the new address to the
--   allowlist: the finding then is low); Kraken only serves recent WithdrawStatus records, so a change is seen
--   only when both addresses were withdrawn to within what was collected.
WITH params AS (
    SELECT :'allowlist'::jsonb AS allowlist
),
named AS (
    -- Withdrawals with both a name and an address; address_key is the comparable form of the address.
    SELECT w.refid, w.asset, w.key AS name, w.info AS address, w.time, w.amount, w.status, w.updated_at, w.first_seen_at,
           CASE WHEN w.info ~ '^0[xX][0-9a-fA-F]+$' THEN lower(w.info) ELSE w.info END AS address_key
      FROM audit.withdrawals w
     WHERE w.account_id = :'account_id'::integer AND w.key IS NOT NULL AND w.key <> ''
       AND w.info IS NOT NULL AND w.info <> ''
),
touched AS (
    -- Names and addresses of withdrawals changed since the last analysis: only their history is looked at.
    SELECT DISTINCT n.asset, n.name, n.address_key
      FROM named n
     WHERE n.updated_at > :'changed_after'::timestamptz AND n.time >= :'occurred_after'::timestamptz
),
seen AS (
    -- Each (asset, name, address) combination of a touched name or address: when it was first and last seen.
    SELECT n.asset, n.name, n.address_key, min(n.address) AS address, min(n.time) AS first_seen,
           min(n.first_seen_at) AS first_stored,
           max(n.time) AS last_seen, count(*) AS withdrawals,
           (array_agg(n.refid ORDER BY n.time, n.refid))[1] AS first_refid,
           (array_agg(n.refid ORDER BY n.time DESC, n.refid DESC))[1:20] AS recent_refids,
           bool_or(EXISTS (SELECT 1 FROM params p,
                                  jsonb_array_elements(coalesce(p.allowlist -> n.asset, '[]'::jsonb)) e
                            WHERE CASE WHEN e ->> 'address' ~ '^0[xX][0-9a-fA-F]+$' THEN lower(e ->> 'address')
                                       ELSE e ->> 'address' END = n.address_key)) AS allowlisted
      FROM named n
     WHERE EXISTS (SELECT 1 FROM touched t WHERE t.asset = n.asset AND t.name = n.name)
        OR EXISTS (SELECT 1 FROM touched t WHERE t.asset = n.asset AND t.address_key = n.address_key)
     GROUP BY n.asset, n.name, n.address_key
),
ranked AS (
    SELECT s.*,
           -- Kraken's times have whole seconds: on a tie, the combination kraken-audit stored first came first.
           row_number() OVER (PARTITION BY s.asset, s.name ORDER BY s.first_seen, s.first_stored, s.address_key) AS nth_address,
           row_number() OVER (PARTITION BY s.asset, s.address_key ORDER BY s.first_seen, s.first_stored, s.name) AS nth_name
      FROM seen s
),
repointed AS (
    -- A name with an address it did not have at first: every address after the first one.
    SELECT r.*, 'repointed' AS change,
           CASE WHEN r.allowlisted THEN 'low' ELSE 'high' END AS severity,
           (SELECT jsonb_agg(jsonb_build_object(
                       'address', o.address, 'first_seen', o.first_seen, 'last_seen', o.last_seen,
                       'withdrawals', o.withdrawals, 'recent_refids', to_jsonb(o.recent_refids),
                       'allowlisted', o.allowlisted) ORDER BY o.first_seen, o.address_key)
              FROM ranked o
             WHERE o.asset = r.asset AND o.name = r.name AND o.first_seen <= r.first_seen
               AND o.address_key <> r.address_key) AS before
      FROM ranked r
     WHERE r.nth_address > 1
),
renamed AS (
    -- An allowlisted address under a name it did not have at first.
    SELECT r.*, 'renamed' AS change, 'info' AS severity,
           (SELECT jsonb_agg(jsonb_build_object(
                       'name', o.name, 'first_seen', o.first_seen, 'last_seen', o.last_seen,
                       'withdrawals', o.withdrawals, 'recent_refids', to_jsonb(o.recent_refids))
                       ORDER BY o.first_seen, o.name)
              FROM ranked o
             WHERE o.asset = r.asset AND o.address_key = r.address_key AND o.first_seen <= r.first_seen
               AND o.name <> r.name) AS before
      FROM ranked r
     WHERE r.nth_name > 1 AND r.allowlisted
),
changes AS (
    SELECT * FROM repointed
    UNION ALL
    SELECT * FROM renamed
)
SELECT :'account_id'::integer AS account_id,
       'withdrawal' AS entity_type,
       c.first_refid AS entity_id,
       c.severity,
       CASE c.change
           WHEN 'repointed' THEN format(
               'Address-book entry "%s" (%s) re-pointed: withdrawal to %s%s, before to %s; first seen %s %s',
               c.name, c.asset, c.address, CASE WHEN c.allowlisted THEN ' (allowlisted)' ELSE ' (not in the allowlist)' END,
               (SELECT string_agg(b ->> 'address', ', ') FROM jsonb_array_elements(c.before) b),
               to_char(c.first_seen AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text)
           ELSE format(
               'Allowlisted %s address %s appears under a new address-book name "%s" (before: %s); first seen %s %s',
               c.asset, c.address, c.name,
               (SELECT string_agg(b ->> 'name', ', ') FROM jsonb_array_elements(c.before) b),
               to_char(c.first_seen AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text)
       END AS title,
       jsonb_build_object(
           'change', c.change, 'asset', c.asset, 'name', c.name, 'address', c.address,
           'allowlisted', c.allowlisted, 'first_seen', c.first_seen, 'last_seen', c.last_seen,
           'first_seen_local', to_char(c.first_seen AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI:SS') || ' ' || :'timezone'::text,
           'withdrawals', c.withdrawals, 'first_refid', c.first_refid, 'recent_refids', to_jsonb(c.recent_refids),
           CASE c.change WHEN 'repointed' THEN 'previous_addresses' ELSE 'previous_names' END, c.before) AS evidence,
       format('withdrawal_address_changed:%s:%s:%s', :'account_id'::integer, c.change,
              md5(jsonb_build_array(c.asset, c.name, c.address_key)::text)) AS dedupe_key,
       c.first_seen AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM changes c;
