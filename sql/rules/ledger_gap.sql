-- id: ledger_gap
-- title: Ledger balance break
-- severity: high
-- entity: ledger
-- input: collected
-- param: tolerance decimal "0" | Largest difference between expected and recorded balance that is ignored.
-- catches: per account and asset, an entry whose balance is not the previous entry's balance + amount - fee:
--   a missing, altered or re-ordered ledger entry. Entries with the same timestamp are accepted in any order
--   (the check passes when some entry of that instant, or the last one before it, chains to it). Evidence:
--   both entries, the expected and recorded balance, the difference.
-- false positives: the first entry of an asset is not checked (history may start mid-way). A collection that
--   failed half-way leaves a gap until the missing pages are fetched: the analyser does not run this rule (nor
--   any rule with input collected) while the account's latest collection run failed or is still running.
WITH scope AS (
    SELECT e.* FROM audit.ledger_entries e
     WHERE e.account_id = :'account_id'::integer
       AND e.updated_at > :'changed_after'::timestamptz AND e.time >= :'occurred_after'::timestamptz
),
candidates AS (
    -- New entries and, for late arrivals, the entry right after each (its predecessor changed).
    SELECT s.ledger_id, s.asset FROM scope s
    UNION
    SELECT n.ledger_id, n.asset FROM scope s
      CROSS JOIN LATERAL (
            SELECT x.ledger_id, x.asset FROM audit.ledger_entries x
             WHERE x.account_id = s.account_id AND x.asset = s.asset
               AND (x.time, x.ledger_id) > (s.time, s.ledger_id)
             ORDER BY x.time, x.ledger_id LIMIT 1) n
),
checked AS (
    SELECT e.*, p.ledger_id AS prev_id, p.time AS prev_time, p.type AS prev_type, p.amount AS prev_amount,
           p.fee AS prev_fee, p.balance AS prev_balance, p.refid AS prev_refid,
           p.balance + e.amount - e.fee AS expected
      FROM candidates c
      JOIN audit.ledger_entries e ON e.account_id = :'account_id'::integer AND e.ledger_id = c.ledger_id
      JOIN LATERAL (
            SELECT x.* FROM audit.ledger_entries x
             WHERE x.account_id = e.account_id AND x.asset = e.asset
               AND (x.time, x.ledger_id) < (e.time, e.ledger_id)
             ORDER BY x.time DESC, x.ledger_id DESC LIMIT 1) p ON true
),
breaks AS (
    SELECT c.* FROM checked c
     WHERE abs(c.expected - c.balance) > :'tolerance'::numeric
       -- Entries of one instant may have been booked in any order: accept the entry when some other entry of its
       -- own instant, of its predecessor's instant or of the last instant before its own has the balance it needs.
       AND NOT EXISTS (
            SELECT 1 FROM audit.ledger_entries x
             WHERE x.account_id = c.account_id AND x.asset = c.asset AND x.ledger_id <> c.ledger_id
               AND x.time IN (c.time, c.prev_time,
                              (SELECT max(y.time) FROM audit.ledger_entries y
                                WHERE y.account_id = c.account_id AND y.asset = c.asset AND y.time < c.time))
               AND abs(x.balance + c.amount - c.fee - c.balance) <= :'tolerance'::numeric)
)
SELECT :'account_id'::integer AS account_id,
       'ledger' AS entity_type,
       b.ledger_id AS entity_id,
       'high' AS severity,
       format('Ledger balance break in %s at %s: expected %s after %s, recorded %s (difference %s %s), %s %s',
              b.asset, b.ledger_id, trim_scale(b.expected), b.prev_id, trim_scale(b.balance),
              trim_scale(b.balance - b.expected), b.asset,
              to_char(b.time AT TIME ZONE :'timezone'::text, 'YYYY-MM-DD HH24:MI'), :'timezone'::text) AS title,
       jsonb_build_object(
           'asset', b.asset,
           'previous', jsonb_build_object('ledger_id', b.prev_id, 'refid', b.prev_refid, 'time', b.prev_time,
                                          'type', b.prev_type, 'amount', b.prev_amount::text,
                                          'fee', b.prev_fee::text, 'balance', b.prev_balance::text),
           'entry', jsonb_build_object('ledger_id', b.ledger_id, 'refid', b.refid, 'time', b.time, 'type', b.type,
                                       'subtype', b.subtype, 'amount', b.amount::text, 'fee', b.fee::text,
                                       'balance', b.balance::text),
           'expected_balance', b.expected::text, 'recorded_balance', b.balance::text,
           'difference', (b.balance - b.expected)::text, 'tolerance', :'tolerance'::numeric::text,
           'formula', 'previous.balance + entry.amount - entry.fee') AS evidence,
       format('ledger_gap:%s:%s', :'account_id'::integer, b.ledger_id) AS dedupe_key,
       b.time AS occurred_at,
       '{}'::bigint[] AS api_call_ids
  FROM breaks b;
